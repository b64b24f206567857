package gateway

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

func enrolledHost(t *testing.T) (*fakeHost, ed25519.PublicKey) {
	t.Helper()
	ns := newNamespace(t)
	_, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	h := newHost(t, "app-01")
	resp := h.enroll(t, token)
	raw, err := base64.StdEncoding.DecodeString(resp.WorkPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return h, ed25519.PublicKey(raw)
}

func TestCheckInReturnsSignedDesiredState(t *testing.T) {
	h, workKey := enrolledHost(t)
	sd, err := host.CheckIn(context.Background(), h.id, protocol.CheckInRequest{AgentVersion: "v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := protocol.OpenDocument(sd, workKey, h.id.Agent, h.machineID, time.Now())
	if err != nil {
		t.Fatalf("the work document does not verify for its own agent: %v", err)
	}
	if doc.CheckInInterval.Duration != time.Minute || doc.NextCheckIn.Duration != time.Minute || !doc.SendFacts {
		t.Errorf("work document %+v: want the default 60s interval and a request for facts", doc)
	}
	// Another agent cannot use it.
	if _, err := protocol.OpenDocument(sd, workKey, "other/agent", h.machineID, time.Now()); err == nil {
		t.Error("a work document opened for another agent")
	}

	// Heartbeat mode: spec.heartbeat.until ahead means 5s check-ins.
	until := metav1.NewTime(time.Now().Add(time.Minute).Truncate(time.Second))
	updateAgent(t, h.id.Agent, func(a *redflagv1.Agent) { a.Spec.Heartbeat = &redflagv1.HeartbeatSpec{Until: until} })
	eventually(t, "gateway sees heartbeat mode", func() bool { return gw.agents.get(h.id.Agent).heartbeatUntil.Equal(until.Time) })
	sd, err = host.CheckIn(context.Background(), h.id, protocol.CheckInRequest{AgentVersion: "v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ = protocol.OpenDocument(sd, workKey, h.id.Agent, h.machineID, time.Now())
	if doc.NextCheckIn.Duration != 5*time.Second || doc.HeartbeatUntil == nil || !doc.HeartbeatUntil.Equal(until.Time) {
		t.Errorf("in heartbeat mode: next check-in %s, heartbeat until %v", doc.NextCheckIn, doc.HeartbeatUntil)
	}
}

// TestUnchangedCheckInsWriteNothing is the central cost rule: once lastSeen
// is fresh, check-ins that change nothing make no API write at all. Writes
// are counted at the gateway process's transport, so none escapes.
func TestUnchangedCheckInsWriteNothing(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	if _, err := host.CheckIn(ctx, h.id, protocol.CheckInRequest{AgentVersion: "v0.1.0"}); err != nil {
		t.Fatal(err)
	}
	// Any write the first check-in queued has landed.
	eventually(t, "the gateway's background writes to finish", gw.backgroundIdle)
	before, rv := writes.Load(), getAgent(t, h.id.Agent).ResourceVersion
	for range 100 {
		if _, err := host.CheckIn(ctx, h.id, protocol.CheckInRequest{AgentVersion: "v0.1.0"}); err != nil {
			t.Fatal(err)
		}
	}
	// Check-ins write only through the liveness writer, queued before
	// the answer: once it is idle, any write they caused has been made.
	eventually(t, "the gateway's background writes to finish", gw.backgroundIdle)
	if n := writes.Load() - before; n != 0 {
		t.Errorf("100 unchanged check-ins made %d API writes, want 0", n)
	}
	if after := getAgent(t, h.id.Agent).ResourceVersion; after != rv {
		t.Errorf("100 unchanged check-ins changed the Agent (resourceVersion %s -> %s)", rv, after)
	}

	// Heartbeat mode: check-ins every 5 seconds, and still no write.
	until := metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
	updateAgent(t, h.id.Agent, func(a *redflagv1.Agent) { a.Spec.Heartbeat = &redflagv1.HeartbeatSpec{Until: until} })
	eventually(t, "gateway sees heartbeat mode", func() bool { return gw.agents.get(h.id.Agent).heartbeatUntil.Equal(until.Time) })
	eventually(t, "the gateway's background writes to finish", gw.backgroundIdle)
	before = writes.Load()
	for range 50 {
		if _, err := host.CheckIn(ctx, h.id, protocol.CheckInRequest{AgentVersion: "v0.1.0"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the gateway's background writes to finish", gw.backgroundIdle)
	if n := writes.Load() - before; n != 0 {
		t.Errorf("50 unchanged heartbeat check-ins made %d API writes, want 0", n)
	}

	// A new agent version is a change, and is written.
	if _, err := host.CheckIn(ctx, h.id, protocol.CheckInRequest{AgentVersion: "v0.2.0"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new agent version persisted", func() bool { return getAgent(t, h.id.Agent).Status.AgentVersion == "v0.2.0" })
}

func TestFactsReportIsAppliedOnceAndOnlyWhenChanged(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	facts := &protocol.Facts{
		AgentVersion: "v0.1.0", Hostname: "app-01", Hash: "hash-1",
		OS:      protocol.OSInfo{Family: "linux", Distribution: "debian", Version: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		System:  protocol.SystemFacts{CPUCores: 2, MemoryBytes: 24 << 30, RebootRequired: true, RebootReason: "linux-image-6.1.0-28"},
		Storage: []protocol.MountStatus{{MountPoint: "/", Device: "/dev/vda", FSType: "ext4", SizeBytes: 100, UsedBytes: 40}},
	}
	rep := protocol.Report{IdempotencyKey: "facts-1", Kind: protocol.ReportFacts, Time: time.Now(), Facts: facts}
	if _, err := host.Report(ctx, h.id, rep); err != nil {
		t.Fatal(err)
	}
	a := getAgent(t, h.id.Agent)
	if a.Status.FactsHash != "hash-1" || a.Status.OS.PrettyName != "Debian GNU/Linux 12 (bookworm)" ||
		!a.Status.System.RebootRequired || len(a.Status.Storage) != 1 || a.Status.Storage[0].SizeBytes != 100 {
		t.Fatalf("facts not stored: %+v", a.Status)
	}
	dup, err := host.Report(ctx, h.id, rep)
	if err != nil || !dup.Duplicate {
		t.Errorf("a retried report: %+v, %v; want it acknowledged as a duplicate", dup, err)
	}
	eventually(t, "gateway sees the facts hash", func() bool { return gw.agents.get(h.id.Agent).factsHash == "hash-1" })
	before := getAgent(t, h.id.Agent).ResourceVersion
	rep.IdempotencyKey = "facts-2"
	if _, err := host.Report(ctx, h.id, rep); err != nil {
		t.Fatal(err)
	}
	if after := getAgent(t, h.id.Agent).ResourceVersion; after != before {
		t.Error("an unchanged facts report wrote the Agent")
	}
	// The check-in no longer asks for facts once the hashes agree.
	sd, err := host.CheckIn(ctx, h.id, protocol.CheckInRequest{FactsHash: "hash-1"})
	if err != nil {
		t.Fatal(err)
	}
	var doc protocol.WorkDocument
	_ = json.Unmarshal(sd.Payload, &doc)
	if doc.SendFacts {
		t.Error("check-in asks for facts the gateway already holds")
	}

	// Facts that went back to nothing are stored as nothing: the reboot
	// the host needed was made, and the mount was unmounted.
	facts.Hash, facts.System.RebootRequired, facts.System.RebootReason, facts.Storage = "hash-2", false, "", nil
	rep.IdempotencyKey = "facts-3"
	if _, err := host.Report(ctx, h.id, rep); err != nil {
		t.Fatal(err)
	}
	if a := getAgent(t, h.id.Agent); a.Status.FactsHash != "hash-2" || a.Status.System.RebootRequired || a.Status.System.RebootReason != "" || len(a.Status.Storage) != 0 {
		t.Errorf("after a host reported no reboot needed and no mounts the Agent shows factsHash %q, reboot required %v (%q), %d mounts",
			a.Status.FactsHash, a.Status.System.RebootRequired, a.Status.System.RebootReason, len(a.Status.Storage))
	}
}

func TestAgentReportedEventsGoToHistoryAndEvents(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	rep := protocol.Report{IdempotencyKey: "ev-1", Kind: protocol.ReportEvent, Time: time.Now(),
		Event: &protocol.AgentEvent{Reason: "AgentStarted", Message: "redflag-agent v0.1.0 started", Metadata: map[string]string{"version": "v0.1.0"}}}
	if _, err := host.Report(ctx, h.id, rep); err != nil {
		t.Fatal(err)
	}
	a := getAgent(t, h.id.Agent)
	if n := len(a.Status.History); n == 0 || a.Status.History[n-1].Reason != "AgentStarted" || a.Status.History[n-1].Component != redflagv1.ComponentAgent {
		t.Errorf("history %+v: want AgentStarted last, from the agent", a.Status.History)
	}
	ns, name, _ := strings.Cut(h.id.Agent, "/")
	eventually(t, "an AgentStarted Event", func() bool { return slices.Contains(normalEvents(t, ns, name), "AgentStarted") })

	// A host cannot report controller or security reasons about itself.
	rep.IdempotencyKey, rep.Event.Reason = "ev-2", "AgentReturned"
	_, err := host.Report(ctx, h.id, rep)
	if e := refusal(t, err); e.Status != http.StatusBadRequest {
		t.Errorf("forged reason: %v", e)
	}
}

// TestForgedRequestsAreRefused sends what an attacker would and checks the
// status code, the error code, the Warning Event, and that nothing changed.
func TestForgedRequestsAreRefused(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	body, _ := json.Marshal(protocol.CheckInRequest{AgentVersion: "v0.1.0"})
	other := newHost(t, "intruder")
	before := getAgent(t, h.id.Agent).ResourceVersion

	// A valid request, captured, then replayed byte for byte.
	var captured http.Header
	code, _, err := host.Post(ctx, protocol.PathCheckIn, body, &h.id, func(r *http.Request) { captured = r.Header.Clone() })
	if err != nil || code != http.StatusOK {
		t.Fatalf("valid check-in: %d %v", code, err)
	}
	cases := []struct {
		name   string
		id     hostclient.Identity
		body   []byte
		mutate func(*http.Request)
		status int
		code   string
	}{
		{"replayed request", h.id, body, func(r *http.Request) { r.Header = captured.Clone() }, http.StatusUnauthorized, protocol.CodeReplay},
		{"signed with another key", hostclient.Identity{Agent: h.id.Agent, MachineID: h.machineID, Key: other.key}, body, nil, http.StatusUnauthorized, protocol.CodeBadSignature},
		{"tampered body", h.id, body, func(r *http.Request) { r.Body = http.NoBody; r.ContentLength = 0 }, http.StatusUnauthorized, protocol.CodeBadSignature},
		{"stale timestamp", h.id, body, func(r *http.Request) {
			r.Header.Set(protocol.HeaderTimestamp, strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10))
		}, http.StatusUnauthorized, protocol.CodeStaleTimestamp},
		{"other machine ID", hostclient.Identity{Agent: h.id.Agent, MachineID: "cloned-machine", Key: h.key}, body, nil, http.StatusForbidden, protocol.CodeMachineIDMismatch},
		{"unknown agent", hostclient.Identity{Agent: "nowhere/nobody", MachineID: h.machineID, Key: h.key}, body, nil, http.StatusUnauthorized, protocol.CodeUnknownAgent},
		{"unsigned", hostclient.Identity{}, body, nil, http.StatusUnauthorized, protocol.CodeBadSignature},
		{"oversized body", h.id, make([]byte, protocol.MaxCheckInBody+1), nil, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge},
	}
	for _, tc := range cases {
		var id *hostclient.Identity
		if tc.id.Key != nil {
			id = &tc.id
		}
		code, resp, err := host.Post(ctx, protocol.PathCheckIn, tc.body, id, tc.mutate)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var e protocol.Error
		_ = json.Unmarshal(resp, &e)
		if code != tc.status || e.Code != tc.code {
			t.Errorf("%s: got %d %s (%s), want %d %s", tc.name, code, e.Code, e.Message, tc.status, tc.code)
		}
	}
	ns, name, _ := strings.Cut(h.id.Agent, "/")
	eventually(t, "Warning Events for the forgeries", func() bool {
		got := warningEvents(t, ns, name)
		return slices.Contains(got, "ReplayRejected") && slices.Contains(got, "BadSignature") && slices.Contains(got, "MachineIDMismatch")
	})
	if after := getAgent(t, h.id.Agent).ResourceVersion; after != before {
		t.Error("refused requests changed the Agent")
	}

	// A revoked agent is refused.
	updateAgent(t, h.id.Agent, func(a *redflagv1.Agent) { a.Spec.Revoked = true })
	a := getAgent(t, h.id.Agent)
	eventually(t, "gateway sees the revocation", func() bool { return gw.agents.get(h.id.Agent).revoked })
	_, err = host.CheckIn(ctx, h.id, protocol.CheckInRequest{})
	if e := refusal(t, err); e.Status != http.StatusForbidden || e.Code != protocol.CodeAgentRevoked {
		t.Errorf("revoked agent: %v", e)
	}
	// Deleting the Agent refuses it at once too.
	if err := env.Client.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gateway forgets the deleted agent", func() bool { return gw.agents.get(h.id.Agent) == nil })
	_, err = host.CheckIn(ctx, h.id, protocol.CheckInRequest{})
	if e := refusal(t, err); e.Status != http.StatusUnauthorized || e.Code != protocol.CodeUnknownAgent {
		t.Errorf("deleted agent: %v", e)
	}
}
