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
	body, err := readAllSized(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
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

// readAllSized reads r to the end into a buffer sized for the declared
// length, so a 1 MiB body costs 1 MiB rather than io.ReadAll's doublings
// (up to twice that, plus the garbage of each smaller buffer): the body
// budget (admission.go) counts declared lengths, and memory should match.
func readAllSized(r io.Reader, declared, limit int64) ([]byte, error) {
	if declared < 0 || declared > limit {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, declared+1) // +1: reading EOF needs no growth
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			// Longer than declared (the server cuts a body at its
			// Content-Length, so only a reader that lies gets here).
			rest, err := io.ReadAll(r)
			return append(buf, rest...), err
		}
	}
}

// decode parses a JSON body, answering 400 on failure.
func decode(w http.ResponseWriter, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "request body is not valid JSON for this endpoint: %v", err)
		return false
	}
	return true
}
