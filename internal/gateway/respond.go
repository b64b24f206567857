package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/redflag-io/redflag/internal/protocol"
)

// fail writes a JSON refusal. Messages are for the host's operator and never
// carry secrets.
func fail(w http.ResponseWriter, status int, code, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(protocol.Error{Code: code, Message: fmt.Sprintf(format, args...)})
}

// failRetry is fail with Retry-After, for 429 and 503.
func failRetry(w http.ResponseWriter, status int, code string, retryAfter int, format string, args ...any) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	fail(w, status, code, format, args...)
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads at most limit bytes. It reports false (having answered)
// when the body is larger or unreadable.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(w, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge, "request body is over %d bytes", limit)
		} else {
			fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "reading request body: %v", err)
		}
		return nil, false
	}
	return body, true
}

// decode parses a JSON body, answering 400 on failure.
func decode(w http.ResponseWriter, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "request body is not valid JSON for this endpoint: %v", err)
		return false
	}
	return true
}
