package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/redflag-io/redflag/internal/protocol"
)

// TestReplaysAcrossARestartAreRefused captures a signed report that the
// gateway applied, then replays it to a gateway started afterwards (a
// restart, a rolling upgrade: a process whose nonce cache is empty). The
// replay is refused with 503 and a Retry-After, nothing is applied twice,
// and the same report signed anew (what the agent's retry does) is served.
func TestReplaysAcrossARestartAreRefused(t *testing.T) {
	h, _ := enrolledHost(t)
	report := protocol.Report{IdempotencyKey: "restart-1", Kind: protocol.ReportEvent, Time: time.Now(),
		Event: &protocol.AgentEvent{Reason: "AgentStarted", Message: "redflag-agent v0.1.0 started"}}
	body, _ := json.Marshal(report)
	capture := func(now time.Time) *http.Request {
		r := httptest.NewRequest(http.MethodPost, protocol.PathReport, bytes.NewReader(body))
		if err := protocol.SignRequest(r, body, h.key, h.id.Agent, h.machineID, now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	captured := capture(time.Now())
	replay := func(g *Gateway, r *http.Request) *httptest.ResponseRecorder {
		again := r.Clone(context.Background())
		again.Body, again.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		again.RemoteAddr = "192.0.2.50:40000"
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, again)
		return rec
	}
	if rec := replay(gw, captured); rec.Code != http.StatusOK {
		t.Fatalf("the original report: %d %s", rec.Code, rec.Body)
	}
	historyBefore := len(getAgent(t, h.id.Agent).Status.History)

	// The restarted gateway: same cluster, same Agents, a fresh process
	// started two seconds after the capture.
	started := time.Now().Add(2 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	restarted, _, err := startGatewayWith(ctx, env, Options{BindAddress: "127.0.0.1:0"}, func(d *Deps) { d.Clock = clocktesting.NewFakeClock(started) })
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the restarted gateway knows the agent", func() bool { return restarted.agents.get(h.id.Agent) != nil })

	rec := replay(restarted, captured)
	if rec.Code != http.StatusServiceUnavailable || codeOf(t, rec) != protocol.CodeUnavailable || !strings.Contains(rec.Body.String(), "took agent") {
		t.Fatalf("the replay after a restart: %d %s; want 503 Unavailable", rec.Code, rec.Body)
	}
	if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 || s > 120 {
		t.Errorf("Retry-After %q; want 1-120 s, enough to sign again after the take-over", rec.Header().Get("Retry-After"))
	}
	if n := len(getAgent(t, h.id.Agent).Status.History); n != historyBefore {
		t.Errorf("the replay added %d history entries", n-historyBefore)
	}
	// The agent's retry: the same report, signed now.
	if rec := replay(restarted, capture(started)); rec.Code != http.StatusOK {
		t.Errorf("the report signed anew: %d %s; want it served", rec.Code, rec.Body)
	}
}

// TestOwnersChangeWhenReplicasComeAndGo: a replica becoming suspect, and
// its suspicion ending, move agents between owners, so both count as a
// take-over; before any change there is none.
func TestOwnersChangeWhenReplicasComeAndGo(t *testing.T) {
	p, clk := testPeers("gw-a", "gw-b")
	if got := p.ownersChangedAt(clk.Now()); !got.IsZero() {
		t.Fatalf("owners changed at %s before anything happened", got)
	}
	clk.Step(time.Minute)
	suspected := clk.Now()
	p.markSuspect("gw-b")
	if got := p.ownersChangedAt(clk.Now()); !got.Equal(suspected) {
		t.Errorf("after gw-b became suspect: %s, want %s", got, suspected)
	}
	clk.Step(peerSuspectFor + time.Second)
	if got, want := p.ownersChangedAt(clk.Now()), suspected.Add(peerSuspectFor); !got.Equal(want) {
		t.Errorf("after gw-b's suspicion ended: %s, want %s", got, want)
	}
}
