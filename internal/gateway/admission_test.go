package gateway

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// spyBody is a request body that counts the bytes taken from it.
type spyBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *spyBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

// serve sends one request through the gateway's whole handler (address
// limit, admission, endpoint) as from addr.
func serve(addr string, r *http.Request) *httptest.ResponseRecorder {
	r.RemoteAddr = addr + ":40000"
	rec := httptest.NewRecorder()
	gw.Handler().ServeHTTP(rec, r)
	return rec
}

func codeOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e protocol.Error
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return e.Code
}

// TestBodiesOfUnverifiedSendersAreNotRead: every check that needs no body
// (headers, enrolment, revocation, clock, the signature over the declared
// hash, the declared size) refuses before one byte of the body is read, so
// a slow or huge body from an unknown sender costs no memory.
func TestBodiesOfUnverifiedSendersAreNotRead(t *testing.T) {
	ns := newNamespace(t)
	_, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	h := newHost(t, "admission")
	h.enroll(t, token)
	big := bytes.Repeat([]byte("x"), protocol.MaxReportBody)
	signed := func(body []byte, now time.Time, key ed25519.PrivateKey) *http.Request {
		r := httptest.NewRequest(http.MethodPost, protocol.PathReport, nil)
		if err := protocol.SignRequest(r, body, key, h.id.Agent, h.machineID, now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"unsigned", func() *http.Request { return httptest.NewRequest(http.MethodPost, protocol.PathReport, nil) }, http.StatusUnauthorized, protocol.CodeBadSignature},
		{"unknown agent", func() *http.Request {
			r := signed(big, time.Now(), h.key)
			r.Header.Set(protocol.HeaderAgent, ns+"/nobody")
			return r
		}, http.StatusUnauthorized, protocol.CodeUnknownAgent},
		{"timestamp in the year 9999", func() *http.Request {
			return signed(big, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), h.key)
		}, http.StatusUnauthorized, protocol.CodeStaleTimestamp},
		{"signed with another key", func() *http.Request { return signed(big, time.Now(), otherKey) }, http.StatusUnauthorized, protocol.CodeBadSignature},
		{"a hash that is not one", func() *http.Request {
			r := signed(big, time.Now(), h.key)
			r.Header.Set(protocol.HeaderContentSHA256, "not-hex")
			return r
		}, http.StatusBadRequest, protocol.CodeBadRequest},
		{"declared over the limit", func() *http.Request {
			r := signed(big, time.Now(), h.key)
			r.ContentLength = protocol.MaxReportBody + 1
			return r
		}, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			body := &spyBody{r: bytes.NewReader(big)}
			r.Body = io.NopCloser(body)
			if r.ContentLength == 0 {
				r.ContentLength = int64(len(big))
			}
			rec := serve("192.0.2.10", r)
			if rec.Code != tc.status || codeOf(t, rec) != tc.code {
				t.Fatalf("%d %s; want %d %s", rec.Code, rec.Body, tc.status, tc.code)
			}
			if n := body.read.Load(); n != 0 {
				t.Errorf("%d bytes of the body were read before the refusal", n)
			}
		})
	}

	// A genuine signature over the declared hash, then another body: the
	// body is read, found not to be the one signed, and refused.
	report := protocol.Report{IdempotencyKey: "admission-1", Kind: protocol.ReportEvent,
		Event: &protocol.AgentEvent{Reason: "AgentStarted", Message: "started"}}
	good, _ := json.Marshal(report)
	r := signed(good, time.Now(), h.key)
	report.Event.Message = "forged"
	forged, _ := json.Marshal(report)
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(forged)), int64(len(forged))
	if rec := serve("192.0.2.10", r); rec.Code != http.StatusUnauthorized || codeOf(t, rec) != protocol.CodeBadSignature {
		t.Errorf("a body other than the signed one: %d %s; want 401 BadSignature", rec.Code, rec.Body)
	}
	// The signed body itself is applied.
	r = signed(good, time.Now(), h.key)
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(good)), int64(len(good))
	if rec := serve("192.0.2.10", r); rec.Code != http.StatusOK {
		t.Errorf("the signed body: %d %s; want 200", rec.Code, rec.Body)
	}
}

// TestBodyBudget: what cannot be verified before its body (here,
// registrations) is read only within the budget; an address over its share
// gets 429, a full gateway 503, both at once with Retry-After, and the
// budget comes back when the requests end.
func TestBodyBudget(t *testing.T) {
	saved := gw.bodies
	gw.bodies = newBodyBudget(3*protocol.MaxRegisterBody, 2*protocol.MaxRegisterBody, gw.metrics.BodyBytesInFlight)
	t.Cleanup(func() { gw.bodies = saved })

	// hold starts a registration whose body never ends until release.
	type held struct {
		done    chan *httptest.ResponseRecorder
		release func()
	}
	hold := func(addr string) held {
		pr, pw := io.Pipe()
		r := httptest.NewRequest(http.MethodPost, protocol.PathRegister, pr)
		r.ContentLength = protocol.MaxRegisterBody
		h := held{done: make(chan *httptest.ResponseRecorder, 1), release: func() { _ = pw.CloseWithError(io.ErrUnexpectedEOF) }}
		go func() { h.done <- serve(addr, r) }()
		_, _ = pw.Write([]byte("{")) // the handler is reading
		return h
	}
	refused := func(addr string, status int) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, protocol.PathRegister, &spyBody{r: bytes.NewReader([]byte("{}"))})
		r.ContentLength = protocol.MaxRegisterBody
		rec := serve(addr, r)
		if rec.Code != status || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("from %s with the budget held: %d (Retry-After %q) %s; want %d with Retry-After", addr, rec.Code, rec.Header().Get("Retry-After"), rec.Body, status)
		}
	}
	a1, a2 := hold("192.0.2.21"), hold("192.0.2.21")
	refused("192.0.2.21", http.StatusTooManyRequests) // the address's share is taken
	b1 := hold("192.0.2.22")
	refused("192.0.2.23", http.StatusServiceUnavailable) // the whole budget is taken
	if got := gw.bodies.inFlight(); got != 3*protocol.MaxRegisterBody {
		t.Errorf("%d bytes in flight, want %d", got, 3*protocol.MaxRegisterBody)
	}
	for _, h := range []held{a1, a2, b1} {
		h.release()
		select {
		case rec := <-h.done:
			if rec.Code != http.StatusBadRequest {
				t.Errorf("a broken-off registration: %d %s", rec.Code, rec.Body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a registration did not end when its body broke off")
		}
	}
	if got := gw.bodies.inFlight(); got != 0 {
		t.Errorf("%d bytes still counted after every request ended", got)
	}
	if n := len(gw.bodies.byAddr); n != 0 {
		t.Errorf("%d addresses remembered after their requests ended", n)
	}
	// And the budget is back: a real registration goes through.
	ns := newNamespace(t)
	_, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	body, _ := json.Marshal(newHost(t, "after-budget").registerRequest(token))
	r := httptest.NewRequest(http.MethodPost, protocol.PathRegister, bytes.NewReader(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	if rec := serve("192.0.2.23", r); rec.Code != http.StatusOK {
		t.Errorf("a registration once the budget was back: %d %s", rec.Code, rec.Body)
	}
}
