package gateway

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

// countingSink counts the Events a gateway emits, by reason, and passes
// them on: the API's Event objects merge repeats into a series, so only
// the count says how often the gateway spoke.
type countingSink struct {
	inner events.Sink
	mu    sync.Mutex
	n     map[string]int
}

func (s *countingSink) AnnotatedEventf(regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any) {
	s.mu.Lock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[reason]++
	s.mu.Unlock()
	s.inner.AnnotatedEventf(regarding, related, annotations, eventtype, reason, action, note, args...)
}

func (s *countingSink) count(reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[reason]
}

// eventNotes lists the notes of the Events of one reason on an object.
func eventNotes(t *testing.T, ns, name, reason string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// clientFrom is a host client of g that connects from the local address
// ip (any of 127.0.0.0/8 on Linux) and signs with clk's time.
func clientFrom(t *testing.T, g *Gateway, ip string, clk *clocktesting.FakePassiveClock) *hostclient.Client {
	t.Helper()
	c, err := hostclient.New("https://"+g.Addr().String(), g.CAPEM())
	if err != nil {
		t.Fatal(err)
	}
	c.HTTP.Transport.(*http.Transport).DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	c.Now = clk.Now
	return c
}

// TestClonedHostIsFlaggedButServed: one host checking in on its schedule,
// with an early check-in delivering a report after each one, raises
// nothing. A copy of it
// (same key, Agent and machine ID, another address) checking in on its own
// schedule raises one CloneSuspected Warning naming both addresses, and
// no more within the hour however long the copies go on; neither copy is
// ever refused.
func TestClonedHostIsFlaggedButServed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clocktesting.NewFakePassiveClock(time.Now())
	sink := &countingSink{}
	watcher, _, err := startGatewayWith(ctx, env, Options{BindAddress: "127.0.0.1:0", PerAgentRate: 1000, PerAgentBurst: 1000}, func(d *Deps) {
		d.Clock = clk
		sink.inner, d.Events = d.Events, sink
	})
	if err != nil {
		t.Fatal(err)
	}
	h, workKey := enrolledHost(t) // through the shared gateway; both sign with one key
	ns, name, _ := strings.Cut(h.id.Agent, "/")
	eventually(t, "the watching gateway knows the agent", func() bool { return watcher.agents.get(h.id.Agent) != nil })
	original := clientFrom(t, watcher, "127.0.0.1", clk)
	clone := clientFrom(t, watcher, "127.0.0.2", clk)

	checkIn := func(c *hostclient.Client, at time.Time) {
		t.Helper()
		clk.SetTime(at)
		sd, err := c.CheckIn(ctx, h.id, protocol.CheckInRequest{AgentVersion: "v0.1.0", FactsHash: "facts-1"})
		if err != nil {
			t.Fatalf("check-in at %s: %v; a suspected clone must still be served", at.Format(time.TimeOnly), err)
		}
		if _, err := protocol.OpenDocument(sd, workKey, h.id.Agent, h.machineID, at); err != nil {
			t.Fatalf("check-in at %s: %v", at.Format(time.TimeOnly), err)
		}
	}
	report := func(c *hostclient.Client, at time.Time, key string) {
		t.Helper()
		clk.SetTime(at)
		rep := protocol.Report{IdempotencyKey: key, Kind: protocol.ReportFacts, Time: at, Facts: &protocol.Facts{Hash: "facts-1", Hostname: "app-01"}}
		if _, err := c.Report(ctx, h.id, rep); err != nil {
			t.Fatal(err)
		}
	}

	// One host, 60s interval with a few seconds of jitter, whose scanner
	// fails at once: after each check-in the retried scan's result goes
	// out 4s later, then an early check-in.
	at := clk.Now()
	jitter := []time.Duration{-4 * time.Second, 2 * time.Second, 5 * time.Second, -1 * time.Second}
	for i := range 24 {
		checkIn(original, at)
		early := at.Add(4 * time.Second)
		report(original, early.Add(-50*time.Millisecond), "scan-"+string(rune('a'+i)))
		checkIn(original, early)
		at = early.Add(time.Minute + jitter[i%len(jitter)])
	}
	if n := sink.count(events.CloneSuspected.Name); n != 0 {
		t.Fatalf("a single host raised %d CloneSuspected Warnings", n)
	}

	// A copy starts, 25s out of phase, and reports its own facts after
	// each check-in (its boot time differs).
	for i := range 24 {
		checkIn(original, at)
		checkIn(clone, at.Add(25*time.Second))
		report(clone, at.Add(25*time.Second+100*time.Millisecond), "clone-facts-"+string(rune('a'+i)))
		at = at.Add(time.Minute + jitter[i%len(jitter)])
	}
	if n := sink.count(events.CloneSuspected.Name); n != 1 {
		t.Fatalf("two copies checking in for 24 intervals raised %d CloneSuspected Warnings, want exactly 1", n)
	}
	var notes []string
	eventually(t, "the CloneSuspected Event", func() bool { notes = eventNotes(t, ns, name, "CloneSuspected"); return len(notes) > 0 })
	if !strings.Contains(notes[0], "127.0.0.1") || !strings.Contains(notes[0], "127.0.0.2") {
		t.Errorf("the Warning %q does not name both copies' addresses", notes[0])
	}

	// An hour on, the copies are still there and the Warning comes again.
	at = at.Add(clonePeriod)
	for range 12 {
		checkIn(original, at)
		checkIn(clone, at.Add(25*time.Second))
		at = at.Add(time.Minute)
	}
	if n := sink.count(events.CloneSuspected.Name); n != 2 {
		t.Errorf("after another hour of two copies: %d CloneSuspected Warnings, want 2", n)
	}
}

// TestMachineIDRebind: a host presenting another machine ID is refused and
// changes nothing, the Warning says how to rebind it; once a user sets the
// rebind annotation the host is accepted (and its work documents name the
// new machine ID), the rebind is recorded once, and the old machine ID is
// refused; removing the annotation binds the Agent to spec.machineID again.
func TestMachineIDRebind(t *testing.T) {
	h, workKey := enrolledHost(t)
	ctx := context.Background()
	ns, name, _ := strings.Cut(h.id.Agent, "/")
	moved := h.id
	moved.MachineID = "rebuilt-" + randomString(t, 24)
	before := getAgent(t, h.id.Agent)

	_, err := host.CheckIn(ctx, moved, protocol.CheckInRequest{})
	if e := refusal(t, err); e.Status != http.StatusForbidden || e.Code != protocol.CodeMachineIDMismatch || !strings.Contains(e.Message, redflagv1.RebindMachineIDAnnotation) {
		t.Fatalf("before the rebind: %v; want 403 MachineIDMismatch naming %s", e, redflagv1.RebindMachineIDAnnotation)
	}
	command := "kubectl annotate agent -n " + ns + " " + name + " " + redflagv1.RebindMachineIDAnnotation + "=" + moved.MachineID
	eventually(t, "a MachineIDMismatch Warning with the rebind command", func() bool {
		notes := eventNotes(t, ns, name, "MachineIDMismatch")
		return len(notes) > 0 && strings.Contains(notes[0], command)
	})
	if after := getAgent(t, h.id.Agent); after.ResourceVersion != before.ResourceVersion {
		t.Fatal("a refused machine ID changed the Agent")
	}

	updateAgent(t, h.id.Agent, func(a *redflagv1.Agent) {
		metav1.SetMetaDataAnnotation(&a.ObjectMeta, redflagv1.RebindMachineIDAnnotation, moved.MachineID)
	})
	eventually(t, "the gateway sees the rebind", func() bool { return gw.agents.get(h.id.Agent).machineID == moved.MachineID })
	// The record as the gateway knew it before the host came back.
	pending := gw.agents.get(h.id.Agent)
	// A burst of requests: the rebind is still recorded once.
	for range 5 {
		sd, err := host.CheckIn(ctx, moved, protocol.CheckInRequest{})
		if err != nil {
			t.Fatalf("after the rebind: %v", err)
		}
		if _, err := protocol.OpenDocument(sd, workKey, h.id.Agent, moved.MachineID, time.Now()); err != nil {
			t.Fatalf("the work document does not name the new machine ID: %v", err)
		}
	}
	eventually(t, "status.reboundMachineID", func() bool { return getAgent(t, h.id.Agent).Status.ReboundMachineID == moved.MachineID })
	eventually(t, "a MachineIDRebound Event", func() bool { return len(eventNotes(t, ns, name, "MachineIDRebound")) > 0 })
	// Another request judged on the record from before the echo (another
	// replica, or this one before its informer caught up) records nothing.
	if !pending.rebindPending {
		t.Fatal("the record from before the host came back does not await the rebind")
	}
	echoed := getAgent(t, h.id.Agent).ResourceVersion
	if err := gw.storeRebind(ctx, pending); err != nil {
		t.Fatal(err)
	}
	// The check-ins' own recordings (in the background) are done.
	eventually(t, "the gateway's background writes to finish", gw.backgroundIdle)
	a := getAgent(t, h.id.Agent)
	if a.ResourceVersion != echoed {
		t.Error("recording a rebind already echoed wrote the Agent again")
	}
	recorded := 0
	for _, e := range a.Status.History {
		if e.Reason == "MachineIDRebound" {
			recorded++
			if e.Metadata["machineID"] != moved.MachineID || e.Metadata["enrolledMachineID"] != h.machineID {
				t.Errorf("history entry %+v does not name both machine IDs", e)
			}
		}
	}
	if recorded != 1 {
		t.Errorf("the rebind is in the history %d times, want once", recorded)
	}
	if a.Spec.MachineID != h.machineID {
		t.Errorf("spec.machineID changed to %s; it is the record of enrollment", a.Spec.MachineID)
	}

	// The old machine ID is refused now: a copy left with it cannot ride
	// along.
	_, err = host.CheckIn(ctx, h.id, protocol.CheckInRequest{})
	if e := refusal(t, err); e.Code != protocol.CodeMachineIDMismatch {
		t.Errorf("the old machine ID after the rebind: %v; want MachineIDMismatch", e)
	}

	// Without the annotation the Agent is bound to spec.machineID again.
	updateAgent(t, h.id.Agent, func(a *redflagv1.Agent) { delete(a.Annotations, redflagv1.RebindMachineIDAnnotation) })
	eventually(t, "the gateway sees the annotation gone", func() bool { return gw.agents.get(h.id.Agent).machineID == h.machineID })
	if _, err := host.CheckIn(ctx, h.id, protocol.CheckInRequest{}); err != nil {
		t.Errorf("the enrolled machine ID once the annotation is removed: %v", err)
	}
	_, err = host.CheckIn(ctx, moved, protocol.CheckInRequest{})
	if e := refusal(t, err); e.Code != protocol.CodeMachineIDMismatch {
		t.Errorf("the rebound machine ID once the annotation is removed: %v; want MachineIDMismatch", e)
	}
}

// TestOnlyValidRebindsCount: an annotation that is not a machine ID, or
// that names the enrolled one, leaves the Agent bound to spec.machineID.
func TestOnlyValidRebindsCount(t *testing.T) {
	for value, want := range map[string]string{
		"":                 "enrolled-id",
		"enrolled-id":      "enrolled-id",
		"not a machine ID": "enrolled-id",
		"-leading-dash":    "enrolled-id",
		"new-id":           "new-id",
	} {
		a := &redflagv1.Agent{Spec: redflagv1.AgentSpec{MachineID: "enrolled-id"}}
		if value != "" {
			a.Annotations = map[string]string{redflagv1.RebindMachineIDAnnotation: value}
		}
		rec := recordOf(a)
		if rec.machineID != want || rec.rebindPending != (want == "new-id") {
			t.Errorf("annotation %q: bound to %q (pending %v), want %q", value, rec.machineID, rec.rebindPending, want)
		}
	}
	a := &redflagv1.Agent{Spec: redflagv1.AgentSpec{MachineID: "enrolled-id"}, Status: redflagv1.AgentStatus{ReboundMachineID: "new-id"}}
	a.Annotations = map[string]string{redflagv1.RebindMachineIDAnnotation: "new-id"}
	if rec := recordOf(a); rec.machineID != "new-id" || rec.rebindPending {
		t.Errorf("a rebind already echoed in status: bound to %q, pending %v", rec.machineID, rec.rebindPending)
	}
}

// TestReportsWriteOnlyTheSigningAgent: agent A, naming agent B (same
// namespace, holding rollout work) wherever a request lets it, writes only
// to its own Agent. B's status, Events and idempotency keys stay as they
// were.
func TestReportsWriteOnlyTheSigningAgent(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	_, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	a, b := newHost(t, "host-a"), newHost(t, "host-b")
	a.enroll(t, token)
	b.enroll(t, token)
	_, bName, _ := strings.Cut(b.id.Agent, "/")

	au := &redflagv1.AgentUpdate{Spec: redflagv1.AgentUpdateSpec{
		Agents: []string{bName}, Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeAll},
	}}
	au.Namespace, au.Name = ns, "patch-b"
	if err := env.Client.Create(ctx, au); err != nil {
		t.Fatal(err)
	}
	au.Status.WorkID = "patch-b.0123abcd"
	au.Status.Slots = []redflagv1.Slot{{Agent: bName, Since: metav1.Now()}}
	if err := env.Client.Status().Update(ctx, au); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B is offered its work", func() bool { return checkInDoc(t, b).Work != nil })
	eventually(t, "the gateway's background writes to finish", gw.backgroundIdle) // B's own writes
	bBefore := getAgent(t, b.id.Agent)
	bEvents := normalEvents(t, ns, bName)

	now := time.Now()
	post := func(path string, rep protocol.Report, id hostclient.Identity) (int, protocol.Error) {
		t.Helper()
		body, _ := json.Marshal(rep)
		code, resp, err := host.Post(ctx, path, body, &id, nil)
		if err != nil {
			t.Fatal(err)
		}
		var e protocol.Error
		_ = json.Unmarshal(resp, &e)
		return code, e
	}
	facts := protocol.Report{IdempotencyKey: "shared-key", Kind: protocol.ReportFacts, Time: now,
		Facts: &protocol.Facts{Hostname: "host-b", Hash: "written-by-a"}}
	if code, e := post(protocol.PathReport+"?agent="+url.QueryEscape(b.id.Agent), facts, a.id); code != http.StatusOK {
		t.Fatalf("A's facts report naming B in the query: %d %v", code, e)
	}
	work := protocol.Report{IdempotencyKey: "a-work", Kind: protocol.ReportWork, Time: now, Work: &protocol.WorkResult{
		ID: au.Status.WorkID, AgentUpdate: au.Name, Phase: protocol.WorkSucceeded, Started: now, Finished: &now,
	}}
	if code, e := post(protocol.PathReport, work, a.id); code != http.StatusBadRequest || !strings.Contains(e.Message, "not assigned to this host") {
		t.Errorf("A reporting B's work: %d %v; want 400, not assigned", code, e)
	}
	scan := protocol.Report{IdempotencyKey: "a-scan", Kind: protocol.ReportScan, Time: now, Scan: &protocol.ScanResult{
		Subsystem: "updates", ID: "updates-1", Result: protocol.RunFailed, Message: "from A", Finished: now,
	}}
	if code, e := post(protocol.PathReport, scan, a.id); code != http.StatusOK {
		t.Errorf("A's scan report: %d %v", code, e)
	}
	asB := a.id
	asB.Agent = b.id.Agent
	if code, e := post(protocol.PathReport, facts, asB); code != http.StatusUnauthorized || e.Code != protocol.CodeBadSignature {
		t.Errorf("A's report under B's name: %d %v; want 401 BadSignature", code, e)
	}

	bAfter := getAgent(t, b.id.Agent)
	if bAfter.ResourceVersion != bBefore.ResourceVersion || !reflect.DeepEqual(bAfter.Status, bBefore.Status) {
		t.Errorf("A's reports changed B: status %+v -> %+v", bBefore.Status, bAfter.Status)
	}
	if got := normalEvents(t, ns, bName); !slices.Equal(got, bEvents) {
		t.Errorf("A's reports recorded Events on B: %v -> %v", bEvents, got)
	}
	aAfter := getAgent(t, a.id.Agent)
	if aAfter.Status.FactsHash != "written-by-a" || len(aAfter.Status.Subsystems) != 1 || aAfter.Status.Subsystems[0].Message != "from A" {
		t.Errorf("A's own reports did not land on A: %+v", aAfter.Status)
	}

	// A's idempotency key is A's: B's report with the same key is applied.
	facts.Facts.Hash = "written-by-b"
	resp, err := host.Report(ctx, b.id, facts)
	if err != nil || resp.Duplicate {
		t.Fatalf("B's report with a key A used: %+v, %v; want it applied", resp, err)
	}
	if got := getAgent(t, b.id.Agent).Status.FactsHash; got != "written-by-b" {
		t.Errorf("B's facts hash %q after its own report", got)
	}
}

// TestReplayedRegistrationChangesNothing: the exact bytes of a registration
// sent again (a captured request, or the installer run twice) answer with
// the same Agent, take no seat and write nothing; once the token is revoked
// they are refused.
func TestReplayedRegistrationChangesNothing(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	tok, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour) // seats to spare
	h := newHost(t, "replayed")
	body, _ := json.Marshal(h.registerRequest(token))
	register := func() (int, []byte) {
		t.Helper()
		code, resp, err := host.Post(ctx, protocol.PathRegister, body, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return code, resp
	}
	code, first := register()
	if code != http.StatusOK {
		t.Fatalf("registration: %d %s", code, first)
	}
	var resp protocol.RegisterResponse
	_ = json.Unmarshal(first, &resp)
	key := resp.Namespace + "/" + resp.AgentName
	eventually(t, "the gateway knows the agent", func() bool { return gw.agents.get(key) != nil })
	// The first status write is made before the answer; nothing else
	// is under way.
	eventually(t, "the gateway's background writes to finish", gw.backgroundIdle)
	before := getAgent(t, key).ResourceVersion

	// The same answer, but for created: the replay made nothing.
	code, againBody := register()
	var again protocol.RegisterResponse
	_ = json.Unmarshal(againBody, &again)
	want := resp
	want.Created = false
	if code != http.StatusOK || again != want || !resp.Created {
		t.Errorf("replayed registration: %d %s; want the first answer (%s) again with created false", code, againBody, first)
	}
	if used := usedSeats(t, tok); used != 1 {
		t.Errorf("token shows %d seats used after a replay, want 1", used)
	}
	if after := getAgent(t, key).ResourceVersion; after != before {
		t.Error("a replayed registration wrote the Agent")
	}

	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(tok), tok); err != nil {
		t.Fatal(err)
	}
	tok.Spec.Revoked = true
	if err := env.Client.Update(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var e protocol.Error
	eventually(t, "the replay refused once the token is revoked", func() bool {
		code, resp := register()
		_ = json.Unmarshal(resp, &e)
		return code == http.StatusForbidden
	})
	if e.Code != protocol.CodeTokenRevoked {
		t.Errorf("replay after revocation: %v; want TokenRevoked", e)
	}
	var agents redflagv1.AgentList
	if err := env.Client.List(ctx, &agents, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(agents.Items) != 1 || agents.Items[0].ResourceVersion != before || usedSeats(t, tok) != 1 {
		t.Errorf("after the refused replay: %d Agents (resourceVersion %s, was %s), %d seats", len(agents.Items), agents.Items[0].ResourceVersion, before, usedSeats(t, tok))
	}
}
