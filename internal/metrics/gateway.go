package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redflag-io/redflag/internal/installscript"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Endpoint labels: one per gateway route, so a stranger's made-up paths
// all count as "other" instead of each adding a series.
const (
	EndpointRegister = "register"
	EndpointCheckIn  = "checkin"
	EndpointReport   = "report"
	EndpointHealth   = "health"
	EndpointCA       = "ca"
	EndpointRelease  = "releases"
	EndpointInstall  = "install"
	EndpointOther    = "other"
)

// endpoints are the endpoint labels by index (see EndpointOf).
var endpoints = [...]string{EndpointRegister, EndpointCheckIn, EndpointReport, EndpointHealth, EndpointCA, EndpointRelease, EndpointInstall, EndpointOther}

// Endpoint is a gateway route, an index into endpoints.
type Endpoint uint8

const (
	epRegister Endpoint = iota
	epCheckIn
	epReport
	epHealth
	epCA
	epRelease
	epInstall
	epOther
)

// String is the endpoint's label value.
func (e Endpoint) String() string { return endpoints[e] }

// Enrollment results besides the refusal codes (protocol.Code*).
const (
	EnrollEnrolled   = "Enrolled"   // a new Agent, one seat used
	EnrollReenrolled = "Reenrolled" // the same host again, no seat used
)

// Gateway holds the gateway's metrics. One per process: the vectors are
// registered once, and every Gateway built in the process shares them.
type Gateway struct {
	Requests          *prometheus.CounterVec
	Duration          *prometheus.HistogramVec
	Refusals          *prometheus.CounterVec
	Enrollments       *prometheus.CounterVec
	InFlight          prometheus.Gauge
	BodyBytesInFlight prometheus.Gauge
	CertNotAfter      prometheus.Gauge

	// The series of the hot path, looked up once: WithLabelValues hashes
	// and allocates on every call.
	durations [len(endpoints)]prometheus.Observer
	requests  [len(endpoints)][600]atomic.Pointer[prometheus.Counter]
}

// NewGateway makes the gateway's metrics and registers them on reg (nil:
// unregistered, for tests that build many gateways).
func NewGateway(reg prometheus.Registerer) (*Gateway, error) {
	m := &Gateway{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redflag_gateway_requests_total",
			Help: "Requests the gateway answered, by endpoint and HTTP status code.",
		}, []string{"endpoint", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redflag_gateway_request_duration_seconds",
			Help: "Time from a request's headers to its answer, by endpoint.",
			// A check-in from memory takes about a millisecond; a write
			// waits for the API server; 30 s is the server's limit.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redflag_gateway_refusals_total",
			Help: "Requests the gateway refused, by the refusal's code (the code field of its JSON answer).",
		}, []string{"reason"}),
		Enrollments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redflag_gateway_enrollments_total",
			Help: "Registrations by RegistrationToken (empty for a token id nobody knows) and result (Enrolled, Reenrolled or the refusal's code).",
		}, []string{"namespace", "registrationtoken", "result"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "redflag_gateway_requests_in_flight",
			Help: "Requests the gateway is serving now.",
		}),
		BodyBytesInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "redflag_gateway_body_bytes_in_flight",
			Help: "Bytes of request bodies from senders not verified before their body (registrations, older agents) being read now; bounded by --gateway-body-budget.",
		}),
		CertNotAfter: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "redflag_gateway_certificate_expiry_timestamp_seconds",
			Help: "When the certificate the gateway serves expires (Unix time).",
		}),
	}
	for i, e := range endpoints {
		m.durations[i] = m.Duration.WithLabelValues(e)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Requests, m.Duration, m.Refusals, m.Enrollments, m.InFlight, m.BodyBytesInFlight, m.CertNotAfter} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering the gateway's metrics: %w", err)
		}
	}
	return m, nil
}

// EndpointOf names r's route, for the endpoint label.
func EndpointOf(r *http.Request) Endpoint {
	p := r.URL.Path
	switch {
	case p == protocol.PathCheckIn:
		return epCheckIn
	case p == protocol.PathReport:
		return epReport
	case p == protocol.PathRegister:
		return epRegister
	case p == protocol.PathHealth:
		return epHealth
	case p == protocol.PathCA:
		return epCA
	case p == installscript.Path:
		return epInstall
	case strings.HasPrefix(p, protocol.ReleasesPrefix):
		return epRelease
	}
	return epOther
}

// Observe counts one answered request.
func (m *Gateway) Observe(ep Endpoint, status int, took time.Duration, refusal string) {
	m.counter(ep, status).Inc()
	m.durations[ep].Observe(took.Seconds())
	if refusal != "" {
		m.Refusals.WithLabelValues(refusal).Inc()
	}
}

// counter is the request counter of (ep, status), made on first use.
func (m *Gateway) counter(ep Endpoint, status int) prometheus.Counter {
	if status < 100 || status >= len(m.requests[ep]) {
		return m.Requests.WithLabelValues(ep.String(), "other")
	}
	slot := &m.requests[ep][status]
	if c := slot.Load(); c != nil {
		return *c
	}
	c := m.Requests.WithLabelValues(ep.String(), strconv.Itoa(status))
	slot.Store(&c)
	return c
}
