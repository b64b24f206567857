package gateway

import (
	"io"
	"net/http"
	"time"

	"github.com/redflag-io/redflag/internal/metrics"
)

// instrument counts every request the gateway answers (internal/metrics):
// in flight, by endpoint and code, its latency, and the refusal code fail
// wrote. It costs two clock reads and a few counter updates per request,
// next to a check-in's ~100 µs.
func (g *Gateway) instrument(next http.Handler) http.Handler {
	m := g.metrics
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.InFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			m.InFlight.Dec()
			status := sw.status
			if status == 0 {
				status = http.StatusOK // nothing written: net/http answers 200
			}
			m.Observe(metrics.EndpointOf(r), status, time.Since(start), sw.refusal)
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter keeps the status a handler wrote and, when fail wrote it,
// the refusal's code.
type statusWriter struct {
	http.ResponseWriter
	status  int
	refusal string
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// ReadFrom keeps the connection's sendfile path for files served whole
// (releases), which hiding the writer's io.ReaderFrom would lose.
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return io.Copy(s.ResponseWriter, r)
}

// Unwrap lets http.ResponseController (and the forwarding proxy) reach
// the connection's own writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// noteRefusal records code as the reason w's request was refused, when w
// is the gateway's instrumented writer.
func noteRefusal(w http.ResponseWriter, code string) {
	if s, ok := w.(*statusWriter); ok {
		s.refusal = code
	}
}
