package gateway

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

func TestRegisterCreatesAgentAndCountsOneSeat(t *testing.T) {
	ns := newNamespace(t)
	tok, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{
		AgentLabels: map[string]redflagv1.LabelValue{"tier": "web"},
	}, time.Hour)
	h := newHost(t, "Web-01.example.com")
	resp := h.enroll(t, token)
	if resp.Namespace != ns || resp.AgentName == "" || resp.WorkPublicKey == "" {
		t.Fatalf("registration answer %+v", resp)
	}
	agent := getAgent(t, h.id.Agent)
	if agent.Spec.MachineID != h.machineID || agent.Spec.PublicKey != h.pub {
		t.Errorf("agent spec %+v does not bind the host's machine ID and key", agent.Spec)
	}
	for k, want := range map[string]string{"tier": "web", redflagv1.LabelOS: "linux", redflagv1.LabelArch: "amd64", redflagv1.LabelToken: tok.Name} {
		if agent.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, agent.Labels[k], want)
		}
	}
	if agent.Status.Hostname != "Web-01.example.com" || agent.Status.OS.Distribution != "debian" || agent.Status.LastSeen == nil {
		t.Errorf("first status %+v", agent.Status)
	}

	// The same host registering again (installer re-run) gets the same
	// Agent and uses no second seat.
	again, err := host.Register(context.Background(), h.registerRequest(token))
	if err != nil || again.AgentName != resp.AgentName {
		t.Fatalf("re-registering: %+v, %v", again, err)
	}
	if used := usedSeats(t, tok); used != 1 {
		t.Errorf("token used %d seats after one host registered twice, want 1", used)
	}

	// The same machine ID with another key is refused: an Agent is bound
	// to its key.
	before := getAgent(t, h.id.Agent)
	clone := newHost(t, "Web-01.example.com")
	clone.machineID = h.machineID
	_, err = host.Register(context.Background(), clone.registerRequest(token))
	if e := refusal(t, err); e.Status != http.StatusConflict || e.Code != protocol.CodeKeyMismatch {
		t.Errorf("same machine, new key: %v", e)
	}
	if after := getAgent(t, h.id.Agent); after.ResourceVersion != before.ResourceVersion || after.Spec.PublicKey != h.pub {
		t.Errorf("a refused re-registration with another key changed the Agent (key %s)", after.Spec.PublicKey)
	}
	if used := usedSeats(t, tok); used != 1 {
		t.Errorf("token used %d seats after a refused re-registration, want 1", used)
	}
}

func TestRegisterRefusesBadTokens(t *testing.T) {
	ns := newNamespace(t)
	_, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	_, expired := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, -time.Second)
	revokedTok, revoked := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	revokedTok.Spec.Revoked = true
	if err := env.Client.Update(context.Background(), revokedTok); err != nil {
		t.Fatal(err)
	}
	deletedTok, deleted := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	if err := env.Client.Delete(context.Background(), deletedTok); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the gateway forgets the deleted token", func() bool { _, ok := gw.tokens.lookup(deleted[:6]); return !ok })
	tok := usedSeatsOf(t, ns)
	wrongSecret := token[:7] + "00000000000000000000000000000000"
	h := newHost(t, "db-01")
	for name, tc := range map[string]struct {
		token  string
		status int
		code   string
	}{
		"wrong secret": {wrongSecret, http.StatusUnauthorized, protocol.CodeInvalidToken},
		"unknown id":   {"zzzzzz." + token[7:], http.StatusUnauthorized, protocol.CodeInvalidToken},
		"malformed":    {"not-a-token", http.StatusBadRequest, protocol.CodeBadRequest},
		"expired":      {expired, http.StatusForbidden, protocol.CodeTokenExpired},
		"revoked":      {revoked, http.StatusForbidden, protocol.CodeTokenRevoked},
		"deleted":      {deleted, http.StatusUnauthorized, protocol.CodeInvalidToken},
		"oversized":    {strings.Repeat("x", protocol.MaxRegisterBody), http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge},
	} {
		_, err := host.Register(context.Background(), h.registerRequest(tc.token))
		if e := refusal(t, err); e.Status != tc.status || e.Code != tc.code {
			t.Errorf("%s: got %d %s, want %d %s", name, e.Status, e.Code, tc.status, tc.code)
		}
	}
	var agents redflagv1.AgentList
	if err := env.Client.List(context.Background(), &agents, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(agents.Items) != 0 {
		t.Errorf("refused registrations created %d Agents", len(agents.Items))
	}
	if after := usedSeatsOf(t, ns); !maps.Equal(after, tok) {
		t.Errorf("refused registrations changed the tokens' seats: %v -> %v", tok, after)
	}
}

// usedSeatsOf maps each token in ns to its used seats.
func usedSeatsOf(t *testing.T, ns string) map[string]int32 {
	t.Helper()
	var list redflagv1.RegistrationTokenList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, tok := range list.Items {
		out[tok.Name] = tok.Status.UsedCount
	}
	return out
}

// TestSeatsCannotBeOverspent races several hosts for the last seats.
func TestSeatsCannotBeOverspent(t *testing.T) {
	ns := newNamespace(t)
	maxUses := int32(2)
	tok, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{MaxUses: &maxUses}, time.Hour)
	const hosts = 6
	var wg sync.WaitGroup
	results := make([]error, hosts)
	for i := range hosts {
		h := newHost(t, "race")
		h.hostname = "race-" + string(rune('a'+i))
		wg.Go(func() { _, results[i] = host.Register(context.Background(), h.registerRequest(token)) })
	}
	wg.Wait()
	ok, exhausted := 0, 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case refusal(t, err).Code == protocol.CodeTokenExhausted:
			exhausted++
		default:
			t.Errorf("unexpected refusal: %v", err)
		}
	}
	if ok != int(maxUses) || exhausted != hosts-int(maxUses) {
		t.Errorf("%d hosts enrolled and %d were refused as exhausted; want %d and %d", ok, exhausted, maxUses, hosts-int(maxUses))
	}
	if used := usedSeats(t, tok); used != maxUses {
		t.Errorf("token shows %d seats used, want %d", used, maxUses)
	}
	var agents redflagv1.AgentList
	if err := env.Client.List(context.Background(), &agents, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(agents.Items) != int(maxUses) {
		t.Errorf("%d Agents exist, want %d", len(agents.Items), maxUses)
	}
}

func usedSeats(t *testing.T, tok *redflagv1.RegistrationToken) int32 {
	t.Helper()
	var fresh redflagv1.RegistrationToken
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(tok), &fresh); err != nil {
		t.Fatal(err)
	}
	return fresh.Status.UsedCount
}
