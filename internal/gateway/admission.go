package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/protocol"
)

// The gateway's memory must not be at the mercy of whoever can open a
// connection: a body is read (and held) only when its sender is known, or
// within a budget of bytes in flight.
//
// admit runs before any body is read. A check-in or report names its
// agent, time and signature in headers, and the hash of its body in
// protocol.HeaderContentSHA256, so the gateway checks all of them first:
// an unknown, revoked or badly signed sender is refused with nothing read.
// A request it verified this way needs no budget (the per-agent rate limit
// bounds what one agent can have in flight); its body is then read and
// must have the signed hash. What cannot be verified before the body
// (a registration, whose proof is the token inside it, or a request from
// an older agent that does not send the hash) is read only under the byte
// budget: globally and per client address, counted by the size it
// declares (or the endpoint's limit when it declares none). What does not
// fit is refused at once with Retry-After: 503 when the gateway is full,
// 429 when one address holds its share.

// bodyBudget counts the bytes of bodies being read, in all and per client
// address.
type bodyBudget struct {
	limit, perAddress int64
	gauge             prometheus.Gauge // the total, for the metrics endpoint

	mu     sync.Mutex
	total  int64
	byAddr map[string]int64
}

func newBodyBudget(limit, perAddress int64, gauge prometheus.Gauge) *bodyBudget {
	return &bodyBudget{limit: limit, perAddress: perAddress, gauge: gauge, byAddr: map[string]int64{}}
}

// take reserves n bytes for addr. full says whether the gateway as a whole
// (rather than addr's share) had no room.
func (b *bodyBudget) take(addr string, n int64) (ok, full bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total+n > b.limit {
		return false, true
	}
	if b.byAddr[addr]+n > b.perAddress {
		return false, false
	}
	b.total += n
	b.byAddr[addr] += n
	b.gauge.Set(float64(b.total))
	return true, false
}

// give returns what take reserved; an address holding nothing is
// forgotten, so the map is as large as the addresses with requests in
// flight.
func (b *bodyBudget) give(addr string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total -= n
	b.gauge.Set(float64(b.total))
	if left := b.byAddr[addr] - n; left > 0 {
		b.byAddr[addr] = left
	} else {
		delete(b.byAddr, addr)
	}
}

// inFlight is the budget in use, for tests and metrics.
func (b *bodyBudget) inFlight() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// admitted is the context key under which admit leaves what it learnt of a
// signed request, so authenticate neither parses and screens the headers
// again nor, when the hash was sent, verifies the signature twice.
type admitted struct{}

// admission is what admit learnt: the agent, its request's headers and,
// when the signature was verified over the declared body hash, that hash
// (authenticate then checks the body against it).
type admission struct {
	rec  *agentRecord
	auth protocol.RequestAuth
	hash string
}

// bodyLimit is the largest body each endpoint takes, 0 for one it does
// not gate.
func bodyLimit(r *http.Request) int64 {
	if r.Method != http.MethodPost {
		return 0
	}
	switch r.URL.Path {
	case protocol.PathCheckIn:
		return protocol.MaxCheckInBody
	case protocol.PathReport:
		return protocol.MaxReportBody
	case protocol.PathRegister:
		return protocol.MaxRegisterBody
	}
	return 0
}

// admit decides whether r's body may be read. It answers a refusal itself
// and returns ok false; otherwise it returns the request to serve (with
// the verified hash in its context) and a release for the budget taken.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request) (_ *http.Request, release func(), ok bool) {
	limit := bodyLimit(r)
	if limit == 0 {
		return r, func() {}, true
	}
	if r.ContentLength > limit {
		fail(w, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge, "request body is over %d bytes", limit)
		return nil, nil, false
	}
	if r.URL.Path != protocol.PathRegister {
		rec, a, ok := g.screen(w, r, g.clock.Now())
		if !ok {
			return nil, nil, false
		}
		seen := admission{rec: rec, auth: a}
		if hash := r.Header.Get(protocol.HeaderContentSHA256); hash != "" {
			if !protocol.ValidBodyHash(hash) {
				fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "%s must be the body's SHA-256, 64 lower-case hex digits", protocol.HeaderContentSHA256)
				return nil, nil, false
			}
			if !protocol.VerifyRequestHash(rec.publicKey, r.Method, r.URL.RequestURI(), a, hash) {
				g.refuseSignature(w, rec, a)
				return nil, nil, false
			}
			seen.hash = hash
		}
		r = r.WithContext(context.WithValue(r.Context(), admitted{}, seen))
		if seen.hash != "" {
			return r, func() {}, true // a verified sender needs no budget
		}
	}
	n := limit
	if r.ContentLength >= 0 {
		n = r.ContentLength
	}
	addr := clientIP(r)
	if ok, full := g.bodies.take(addr, n); !ok {
		if full {
			failRetry(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, 1, "the gateway is reading as many request bodies as it may; retry shortly")
		} else {
			failRetry(w, http.StatusTooManyRequests, protocol.CodeRateLimited, 1, "too many request bodies in flight from this address")
		}
		return nil, nil, false
	}
	return r, func() { g.bodies.give(addr, n) }, true
}

// screen is the part of authentication that needs no body: the headers
// parse, the agent is enrolled and not revoked, the timestamp is within
// the allowed skew and not before this gateway took the agent over.
func (g *Gateway) screen(w http.ResponseWriter, r *http.Request, now time.Time) (*agentRecord, protocol.RequestAuth, bool) {
	a, err := protocol.ParseRequestAuth(r.Header)
	if err != nil {
		fail(w, http.StatusUnauthorized, protocol.CodeBadSignature, "%v", err)
		return nil, a, false
	}
	rec := g.agents.get(a.Agent)
	if !enrolled(w, rec, a.Agent) {
		return nil, a, false
	}
	if !a.TimestampWithin(now, g.opts.ClockSkew) {
		fail(w, http.StatusUnauthorized, protocol.CodeStaleTimestamp,
			"request timestamp is %s; check the host's clock", skewText(a.Timestamp, now, g.opts.ClockSkew))
		return nil, a, false
	}
	if nb := g.notBefore(); a.Timestamp.Before(nb) {
		// See takeover.go: this process cannot tell such a request from
		// a replay.
		failRetry(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, retryAfterTakeover(a.Timestamp, nb, g.opts.ClockSkew),
			"the request was signed before this gateway took agent %s over (a restart or a change of replicas); sign it again", a.Agent)
		return nil, a, false
	}
	return rec, a, true
}

// enrolled refuses a request from an agent that is not (or no longer)
// enrolled, or is revoked; rec is its record, nil when unknown.
func enrolled(w http.ResponseWriter, rec *agentRecord, agent string) bool {
	switch {
	case rec == nil:
		fail(w, http.StatusUnauthorized, protocol.CodeUnknownAgent, "no agent %q is enrolled; register again", agent)
		return false
	case rec.revoked:
		fail(w, http.StatusForbidden, protocol.CodeAgentRevoked, "agent %s is revoked", agent)
		return false
	}
	return true
}

// refuseSignature answers a signature that does not verify.
func (g *Gateway) refuseSignature(w http.ResponseWriter, rec *agentRecord, a protocol.RequestAuth) {
	g.warn(rec, events.BadSignature, "a request signed with another key was refused")
	fail(w, http.StatusUnauthorized, protocol.CodeBadSignature, "signature does not verify with agent %s's key", a.Agent)
}
