package gateway

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// The fuzz targets feed a host's bytes to the gateway's decoders and
// handlers with no API server: check-ins need none, and reports write to a
// fake client, whose result must fit the Agent's schema (schema_test.go).
// hack/fuzz.sh runs each for a few seconds; plain `go test` runs their
// seeds and any crasher kept in testdata/fuzz.

var (
	fuzzNow       = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	fuzzHostKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	fuzzSignKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
	fuzzMachineID = "machine-1"
)

const fuzzAgentKey = "tenant/host-1"

// fuzzAgent is the Agent the fuzzed host is: enrolled, with rollout work
// running (so work reports for "work-1" are its own) and one scan stored.
func fuzzAgent() *redflagv1.Agent {
	at := metav1.NewTime(fuzzNow.Add(-time.Hour))
	a := &redflagv1.Agent{Spec: redflagv1.AgentSpec{
		MachineID: fuzzMachineID, PublicKey: base64.StdEncoding.EncodeToString(fuzzHostKey.Public().(ed25519.PublicKey)),
	}}
	a.Namespace, a.Name, a.UID = "tenant", "host-1", "uid-1"
	a.Status.FactsHash = "facts-0"
	a.Status.LastSeen = &at
	a.Status.CurrentWork = &redflagv1.WorkStatus{ID: "work-1", AgentUpdate: "rollout-1", Phase: redflagv1.WorkRunning, StartedAt: &at}
	a.Status.Subsystems = []redflagv1.SubsystemStatus{{Name: "updates", LastRun: &at, Result: redflagv1.RunSucceeded}}
	return a
}

// fuzzGateway is a gateway without an API server; c (nil for check-ins)
// takes its writes.
func fuzzGateway(t *testing.T, c client.Client, a *redflagv1.Agent) *Gateway {
	t.Helper()
	g, err := New(Options{PerIPRate: 1e9, PerIPBurst: 1 << 30, PerAgentRate: 1e9, PerAgentBurst: 1 << 30}, Deps{
		Client: c, Reader: c, Clock: clocktesting.NewFakePassiveClock(fuzzNow), Log: logr.Discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	g.signingKey = fuzzSignKey
	g.agents.put(a)
	return g
}

// serveSigned sends body to path as the fuzzed host, correctly signed: the
// fuzzer's bytes reach the decoders, not just the signature check.
func serveSigned(t *testing.T, g *Gateway, path string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if err := protocol.SignRequest(req, body, fuzzHostKey, fuzzAgentKey, fuzzMachineID, fuzzNow); err != nil {
		t.Fatal(err)
	}
	rr := httptest.NewRecorder()
	g.Handler().ServeHTTP(rr, req)
	return rr
}

// FuzzRegisterRequest: whatever registration a host sends, the gateway
// either refuses it or makes an Agent the API server accepts: a valid name
// and labels, and a spec and first status within the schema.
func FuzzRegisterRequest(f *testing.F) {
	seed, _ := json.Marshal(protocol.RegisterRequest{
		Token: "abcdef.0123456789abcdefghijklmnopqrstuv", MachineID: "0123456789abcdef0123456789abcdef",
		Hostname: "Web-01.Example.com", AgentVersion: "v1.2.3", PublicKey: base64.StdEncoding.EncodeToString(make([]byte, 32)),
		OS: protocol.OSInfo{Family: "linux", Distribution: "debian", Version: "12", Arch: "amd64", Kernel: "6.1.0"},
	})
	f.Add(seed)
	var long protocol.RegisterRequest
	_ = json.Unmarshal(seed, &long)
	long.Hostname, long.AgentVersion = strings.Repeat("Ab.-", 63)+"x", strings.Repeat("é", 32)
	long.OS = protocol.OSInfo{Family: strings.Repeat("ü", 40), Arch: "x86_64 (64-bit)", Kernel: strings.Repeat("k", 200), PrettyName: strings.Repeat("p", 200)}
	if b, err := json.Marshal(long); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`null`))
	tok := &redflagv1.RegistrationToken{Spec: redflagv1.RegistrationTokenSpec{AgentLabels: map[string]redflagv1.LabelValue{"tier": "web"}}}
	tok.Namespace, tok.Name = "tenant", "tok-1"
	f.Fuzz(func(t *testing.T, body []byte) {
		var req protocol.RegisterRequest
		if json.Unmarshal(body, &req) != nil || validateRegister(&req) != nil {
			return
		}
		a := newAgent(tok, agentName(req.Hostname, req.MachineID), &req)
		setFirstStatus(a, &req, fuzzNow)
		if errs := validation.IsDNS1123Label(a.Name); len(errs) > 0 {
			t.Fatalf("Agent name %q from hostname %q: %v", a.Name, req.Hostname, errs)
		}
		for k, v := range a.Labels {
			if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
				t.Fatalf("label %s=%q: %v", k, v, errs)
			}
		}
		if errs := agentErrors(t, a); len(errs) > 0 {
			t.Fatalf("the new Agent breaks its schema: %v", errs)
		}
	})
}

// FuzzCheckIn: a signed check-in with any body is answered 200 with a work
// document that opens for this agent and machine, or refused 400/413.
func FuzzCheckIn(f *testing.F) {
	f.Add([]byte(`{"agentVersion":"v1.2.3","factsHash":"facts-0"}`))
	f.Add([]byte(`{"agentVersion":"` + strings.Repeat("v", 100) + `"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	workKey := fuzzSignKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, body []byte) {
		g := fuzzGateway(t, nil, fuzzAgent())
		rr := serveSigned(t, g, protocol.PathCheckIn, body)
		switch rr.Code {
		case http.StatusOK:
			var resp protocol.CheckInResponse
			if err := json.Unmarshal(rr.Body.Bytes(), &resp); err != nil {
				t.Fatalf("answer %q: %v", rr.Body, err)
			}
			if _, err := protocol.OpenDocument(resp.Work, workKey, fuzzAgentKey, fuzzMachineID, fuzzNow); err != nil {
				t.Fatalf("the answer's work document: %v", err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("check-in answered %d %s", rr.Code, rr.Body)
		}
	})
}

// FuzzReport: a signed report with any body is applied (200) or refused
// (400, 413); either way the stored Agent fits its schema, its spec is
// untouched, and a refused report changed nothing.
func FuzzReport(f *testing.F) {
	now := fuzzNow.Add(-time.Minute)
	long := strings.Repeat("x", 600)
	for _, rep := range []protocol.Report{
		{IdempotencyKey: "f", Kind: protocol.ReportFacts, Facts: &protocol.Facts{Hash: "facts-1", Hostname: long,
			Storage: []protocol.MountStatus{{MountPoint: long, SizeBytes: -1}}, System: protocol.SystemFacts{CPUModel: long}}},
		{IdempotencyKey: "e", Kind: protocol.ReportEvent, Event: &protocol.AgentEvent{Reason: "AgentStarted", Message: long,
			Metadata: map[string]string{long: long, "a": "b", "c": "d", "e": "f", "g": "h", "i": "j", "k": "l"}}},
		{IdempotencyKey: "s", Kind: protocol.ReportScan, Scan: &protocol.ScanResult{Subsystem: "updates", ID: "updates-1",
			Result: protocol.RunSucceeded, Finished: now, UpdatesHash: "inv-1", Updates: &protocol.UpdateInventory{
				Total: -1, ByManager: map[string]int32{"pip": 1, "apt": 2},
				Items: []protocol.PendingUpdate{{Manager: "apt", Name: long, CurrentVersion: long}, {Manager: "pip", Name: "x"}}}}},
		{IdempotencyKey: "w", Kind: protocol.ReportWork, Work: &protocol.WorkResult{ID: "work-1", Phase: protocol.WorkFailed,
			Started: now, Reason: long, Message: long, Changes: []protocol.PackageChange{{Manager: "apt", Name: long, From: long}}}},
	} {
		b, _ := json.Marshal(rep)
		f.Add(b)
	}
	f.Add([]byte(`{"idempotencyKey":"x","kind":"facts"}`))
	scheme := runtime.NewScheme()
	if err := redflagv1.AddToScheme(scheme); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := fuzzAgent()
		c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(before.DeepCopy()).WithStatusSubresource(&redflagv1.Agent{}).Build()
		g := fuzzGateway(t, c, before)
		rr := serveSigned(t, g, protocol.PathReport, body)
		if rr.Code != http.StatusOK && rr.Code != http.StatusBadRequest && rr.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("report answered %d %s", rr.Code, rr.Body)
		}
		var after redflagv1.Agent
		if err := c.Get(t.Context(), client.ObjectKeyFromObject(before), &after); err != nil {
			t.Fatal(err)
		}
		if errs := agentErrors(t, &after); len(errs) > 0 {
			t.Fatalf("the report made the gateway store what the API server refuses: %v", errs)
		}
		if !jsonEqual(after.Spec, before.Spec) {
			t.Fatalf("a report changed the spec: %+v", after.Spec)
		}
		if rr.Code != http.StatusOK && !jsonEqual(after.Status, before.Status) {
			t.Fatalf("a refused report (%d) changed the status", rr.Code)
		}
	})
}

func jsonEqual(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}
