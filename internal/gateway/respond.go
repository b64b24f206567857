package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/go-logr/logr"

	"github.com/redflag-io/redflag/internal/protocol"
)

// fail writes a JSON refusal. Messages are for the host's operator and never
// carry secrets.
func fail(w http.ResponseWriter, status int, code, format string, args ...any) {
	noteRefusal(w, code)
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
//
// No error text goes to the client: a read error names the gateway's own
// socket ("read tcp 10.1.2.3:9443->...: i/o timeout"). The client gets a
// fixed message and the detail goes to the log, at debug level so a
// flood of broken requests cannot flood it.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, log logr.Logger) ([]byte, bool) {
	body, err := readAllSized(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	if err == nil {
		return body, true
	}
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		fail(w, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge, "request body is over %d bytes", limit)
		return nil, false
	case errors.As(err, &netErr) && netErr.Timeout():
		// 408, not 400: the request was not wrong, only slow, and a host
		// drops a report answered 400 but keeps one answered 408.
		fail(w, http.StatusRequestTimeout, protocol.CodeRequestTimeout, "request body not received within the gateway's time limit (30 s for the whole request)")
	default:
		fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "request body could not be read (cut short, or not the length announced)")
	}
	log.V(1).Info("unreadable request body", "path", r.URL.Path, "client", r.RemoteAddr, "error", err.Error())
	return nil, false
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

// decode parses a JSON body, answering 400 on failure. The answer names
// the problem in the protocol's terms (a JSON field, a byte offset), never
// encoding/json's text, which names Go types ("Go struct field
// RegisterRequest.os of type v1alpha1.OSInfo") and echoes input.
func decode(w http.ResponseWriter, body []byte, v any) bool {
	err := json.Unmarshal(body, v)
	if err == nil {
		return true
	}
	fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "%s", decodeProblem(err))
	return false
}

// decodeProblem is the client's fixed description of a decoding error.
func decodeProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("request body is not valid JSON (error at byte %d)", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("request body field %q cannot be a JSON %s", truncate(typ.Field, 128), truncate(typ.Value, 64))
	case errors.As(err, &typ):
		return fmt.Sprintf("request body cannot be a JSON %s: this endpoint takes an object", truncate(typ.Value, 64))
	}
	// A value a field's own decoder refused (a time or duration that does
	// not parse, ...): the field is not known here.
	return "request body is not valid JSON for this endpoint: a value has the wrong form (times are RFC 3339, durations Go duration strings such as \"60s\")"
}
