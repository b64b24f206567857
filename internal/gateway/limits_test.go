package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/testenv"
)

// TestRateLimitsAnswer429WithRetryAfter runs a gateway with tight limits.
func TestRateLimitsAnswer429WithRetryAfter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	strict, strictHost, err := startGateway(ctx, env, Options{
		BindAddress: "127.0.0.1:0", RegisterRate: 0.01, RegisterBurst: 2, PerAgentRate: 0.01, PerAgentBurst: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	_, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	// The strict gateway started a moment ago: a registration before its
	// cache holds the token is refused as InvalidToken and spends the
	// address's small budget, which the rest of the test counts on.
	eventually(t, "strict gateway knows the token", func() bool {
		ref, ok := strict.tokens.lookup(token[:6])
		var tok redflagv1.RegistrationToken
		return ok && strict.client.Get(ctx, ref, &tok) == nil && tok.Status.TokenHash != ""
	})

	// Enrollment: good registrations are not limited (a fleet behind one
	// NAT enrolls at speed)...
	for i := range 4 {
		good := newHost(t, "good")
		good.hostname = "good-" + string(rune('a'+i))
		if _, err := strictHost.Register(ctx, good.registerRequest(token)); err != nil {
			t.Fatalf("good registration %d: %v", i, err)
		}
	}
	// ...but after the burst of failed ones, the address is refused, even
	// with a good token, so secrets cannot be guessed at speed.
	h := newHost(t, "limited")
	wrong := token[:7] + strings.Repeat("0", 32)
	for range 2 {
		_, err := strictHost.Register(ctx, h.registerRequest(wrong))
		if e := refusal(t, err); e.Code != protocol.CodeInvalidToken {
			t.Fatalf("wrong secret: %v", e)
		}
	}
	_, last := strictHost.Register(ctx, h.registerRequest(token))
	e := refusal(t, last)
	if e.Status != http.StatusTooManyRequests || e.Code != protocol.CodeRateLimited || e.RetryAfter < time.Second {
		t.Errorf("registration after two failures: %d %s retry-after %s; want 429 RateLimited with Retry-After", e.Status, e.Code, e.RetryAfter)
	}

	// Per agent: a flood from one agent is cut off after its burst.
	resp, err := host.Register(ctx, h.registerRequest(token)) // through the lenient gateway
	if err != nil {
		t.Fatal(err)
	}
	id := hostclient.Identity{Agent: resp.Namespace + "/" + resp.AgentName, MachineID: h.machineID, Key: h.key}
	eventually(t, "strict gateway knows the agent", func() bool { return strict.agents.get(id.Agent) != nil })
	limited := 0
	for range 6 {
		if _, err := strictHost.CheckIn(ctx, id, protocol.CheckInRequest{}); err != nil {
			if e := refusal(t, err); e.Status == http.StatusTooManyRequests && e.RetryAfter >= time.Second {
				limited++
			} else {
				t.Errorf("unexpected refusal %v", e)
			}
		}
	}
	if limited != 3 {
		t.Errorf("%d of 6 rapid check-ins were limited, want 3 (burst 3)", limited)
	}

	// While limited, a flood of reports is refused before anything is
	// applied: the Agent does not change.
	eventually(t, "the strict gateway's background writes to finish", strict.backgroundIdle)
	before := getAgent(t, id.Agent)
	for i := range 10 {
		rep := protocol.Report{IdempotencyKey: "flood-" + string(rune('a'+i)), Kind: protocol.ReportFacts, Time: time.Now(),
			Facts: &protocol.Facts{Hostname: "flooded", Hash: "flood-" + string(rune('a'+i))}}
		_, err := strictHost.Report(ctx, id, rep)
		if e := refusal(t, err); e.Status != http.StatusTooManyRequests || e.Code != protocol.CodeRateLimited || e.RetryAfter < time.Second {
			t.Fatalf("report %d of a flood: %v; want 429 RateLimited with Retry-After", i, e)
		}
	}
	if after := getAgent(t, id.Agent); after.ResourceVersion != before.ResourceVersion || after.Status.FactsHash != before.Status.FactsHash {
		t.Errorf("a refused flood changed the Agent (facts hash %q -> %q)", before.Status.FactsHash, after.Status.FactsHash)
	}
	// The limit is this agent's: another agent is served meanwhile.
	other := newHost(t, "bystander")
	resp, err = host.Register(ctx, other.registerRequest(token))
	if err != nil {
		t.Fatal(err)
	}
	otherID := hostclient.Identity{Agent: resp.Namespace + "/" + resp.AgentName, MachineID: other.machineID, Key: other.key}
	eventually(t, "strict gateway knows the other agent", func() bool { return strict.agents.get(otherID.Agent) != nil })
	if _, err := strictHost.CheckIn(ctx, otherID, protocol.CheckInRequest{}); err != nil {
		t.Errorf("another agent during the flood: %v", err)
	}
}

// TestAPIServerDownAnswers503 stops the API server under a running gateway:
// writes answer 503 with Retry-After, while check-ins, served from memory,
// keep working.
func TestAPIServerDownAnswers503(t *testing.T) {
	own, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = own.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, c, err := startGateway(ctx, own, Options{BindAddress: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	// The shared fixtures talk to the package's env and gateway; point
	// them at this one for the test.
	saveEnv, saveGW, saveHost := env, gw, host
	env, gw, host = own, g, c
	defer func() { env, gw, host = saveEnv, saveGW, saveHost }()

	ns := newNamespace(t)
	_, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	h := newHost(t, "survivor")
	h.enroll(t, token)

	if err := own.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := host.CheckIn(ctx, h.id, protocol.CheckInRequest{AgentVersion: "v0.1.0"}); err != nil {
		t.Errorf("check-in with the API server down: %v; want it served from memory", err)
	}
	rep := protocol.Report{IdempotencyKey: "k1", Kind: protocol.ReportFacts, Time: time.Now(), Facts: &protocol.Facts{Hash: "h1"}}
	_, err = host.Report(ctx, h.id, rep)
	if e := refusal(t, err); e.Status != http.StatusServiceUnavailable || e.RetryAfter < time.Second {
		t.Errorf("report with the API server down: %v; want 503 with Retry-After", e)
	}
	other := newHost(t, "late-comer")
	_, err = host.Register(ctx, other.registerRequest(token))
	if e := refusal(t, err); e.Status != http.StatusServiceUnavailable || e.RetryAfter < time.Second {
		t.Errorf("registration with the API server down: %v; want 503 with Retry-After", e)
	}
}
