package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestTimestampsFarFromTheClockAreRefused signs real check-ins with clocks
// far off in both directions. The old skew check subtracted the times and
// negated the result: beyond about 292 years ahead the subtraction saturates
// and the negation overflows, so a request dated 2500 or 9999 passed (and,
// once its nonce was forgotten, could be replayed for ever).
func TestTimestampsFarFromTheClockAreRefused(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	body, _ := json.Marshal(protocol.CheckInRequest{AgentVersion: "v0.1.0"})
	// As if the gateway had run for an hour: a request signed before its
	// start is refused for another reason (takeover.go).
	started := gw.takeover.startedAt.Load()
	gw.takeover.start(time.Now().Add(-time.Hour))
	t.Cleanup(func() { gw.takeover.startedAt.Store(started) })
	for _, tc := range []struct {
		name   string
		clock  time.Time
		status int
		code   string
		says   string
	}{
		{"just within the skew ahead", time.Now().Add(2*time.Minute - 10*time.Second), http.StatusOK, "", ""},
		{"just within the skew behind", time.Now().Add(-2*time.Minute + 10*time.Second), http.StatusOK, "", ""},
		{"a century ahead", time.Now().AddDate(100, 0, 0), http.StatusUnauthorized, protocol.CodeStaleTimestamp, "ahead"},
		{"year 2500", time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), http.StatusUnauthorized, protocol.CodeStaleTimestamp, "ahead"},
		{"year 9999", time.Unix(protocol.MaxTimestamp, 0), http.StatusUnauthorized, protocol.CodeStaleTimestamp, "ahead"},
		{"epoch", time.Unix(0, 0), http.StatusUnauthorized, protocol.CodeStaleTimestamp, "behind"},
		{"negative unix", time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC), http.StatusUnauthorized, protocol.CodeBadSignature, "1970 and 9999"},
		{"after year 9999", time.Unix(protocol.MaxTimestamp+1, 0), http.StatusUnauthorized, protocol.CodeBadSignature, "1970 and 9999"},
	} {
		c := *host
		c.Now = func() time.Time { return tc.clock }
		code, resp, err := c.Post(ctx, protocol.PathCheckIn, body, &h.id, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var e protocol.Error
		_ = json.Unmarshal(resp, &e)
		if code != tc.status || e.Code != tc.code || !strings.Contains(e.Message, tc.says) {
			t.Errorf("%s: got %d %s %q, want %d %s saying %q", tc.name, code, e.Code, e.Message, tc.status, tc.code, tc.says)
		}
	}
	// The largest int64 of seconds, where time.Unix wraps around.
	code, resp, err := host.Post(ctx, protocol.PathCheckIn, body, &h.id, func(r *http.Request) {
		r.Header.Set(protocol.HeaderTimestamp, "9223372036854775807")
	})
	if err != nil || code != http.StatusUnauthorized || !strings.Contains(string(resp), protocol.CodeBadSignature) {
		t.Errorf("MaxInt64 seconds: %d %s %v, want 401 %s", code, resp, err, protocol.CodeBadSignature)
	}
}

// TestReportedTimesMustBeRealMoments: times in reports are the host's word.
// One before 1970 or in the future is refused (scan and work reports) or
// dropped (boot time; an inventory's scan time falls back to the scan's),
// and none reaches the Agent: JSON offsets up to ±23:59 turn
// "9999-12-31T23:59:59-23:59" into year 10000 in UTC, which metav1.Time
// writes as a string the API server refuses.
func TestReportedTimesMustBeRealMoments(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	ns, name, _ := strings.Cut(h.id.Agent, "/")
	now := time.Now().UTC().Format(time.RFC3339)
	bad := []string{"9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59Z", "0000-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z"}
	send := func(key, report string) (int, protocol.Error) {
		t.Helper()
		body := fmt.Sprintf(`{"idempotencyKey":%q,"time":%q,%s}`, key, now, report)
		code, resp, err := host.Post(ctx, protocol.PathReport, []byte(body), &h.id, nil)
		if err != nil {
			t.Fatal(err)
		}
		var e protocol.Error
		_ = json.Unmarshal(resp, &e)
		return code, e
	}

	// Scan reports.
	for i, ts := range bad {
		code, e := send(fmt.Sprintf("scan-%d", i), fmt.Sprintf(`"kind":"scan","scan":{"subsystem":"storage","id":"storage-1","result":"Succeeded","finished":%q}`, ts))
		if code != http.StatusBadRequest {
			t.Errorf("scan finished %s: got %d %s %q, want 400", ts, code, e.Code, e.Message)
		}
	}
	if subs := getAgent(t, h.id.Agent).Status.Subsystems; len(subs) != 0 {
		t.Fatalf("refused scan reports stored %+v", subs)
	}
	code, e := send("scan-ok", fmt.Sprintf(`"kind":"scan","scan":{"subsystem":"updates","id":"updates-1","result":"Succeeded","finished":%q,`+
		`"updates":{"total":0,"scannedAt":"0000-01-01T00:00:00+01:00"},"updatesHash":"inv-1"}`, now))
	if code != http.StatusOK {
		t.Fatalf("scan with a bad inventory time: %d %s %q, want 200", code, e.Code, e.Message)
	}
	if at := getAgent(t, h.id.Agent).Status.Updates.ScannedAt; at == nil || at.UTC().Format(time.RFC3339) != now {
		t.Errorf("inventory scannedAt %v, want the scan's finish time %s", at, now)
	}

	// Facts: an impossible boot time is dropped, the rest is stored.
	code, e = send("facts-1", `"kind":"facts","facts":{"agentVersion":"v0.1.0","hostname":"app-01","os":{},"system":{"bootTime":"9999-12-31T23:59:59Z"},"hash":"f1"}`)
	if code != http.StatusOK {
		t.Fatalf("facts: %d %s %q", code, e.Code, e.Message)
	}
	if a := getAgent(t, h.id.Agent); a.Status.FactsHash != "f1" || a.Status.System.BootTime != nil {
		t.Errorf("facts stored with hash %q and boot time %v, want f1 and none", a.Status.FactsHash, a.Status.System.BootTime)
	}

	// Work reports, for work the host was given.
	au := &redflagv1.AgentUpdate{Spec: redflagv1.AgentUpdateSpec{
		Agents:   []string{name},
		Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeNamed, Names: []string{"openssl"}},
	}}
	au.Namespace, au.Name = ns, "patch-openssl"
	if err := env.Client.Create(ctx, au); err != nil {
		t.Fatal(err)
	}
	au.Status.WorkID = "patch-openssl.0123abcd"
	au.Status.Slots = []redflagv1.Slot{{Agent: name, Since: metav1.Now()}}
	if err := env.Client.Status().Update(ctx, au); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the work in the answer", func() bool { return checkInDoc(t, h).Work != nil })
	for i, ts := range bad {
		works := []string{fmt.Sprintf(`"phase":"Running","started":%q`, ts)}
		if ts != "0001-01-01T00:00:00Z" {
			// A zero finish time counts as none (the start time is used).
			works = append(works, fmt.Sprintf(`"phase":"Succeeded","started":%q,"finished":%q`, now, ts))
		}
		for _, work := range works {
			code, e := send(fmt.Sprintf("work-%d-%d", i, len(work)), `"kind":"work","work":{"id":"patch-openssl.0123abcd","agentUpdate":"patch-openssl",`+work+`}`)
			if code != http.StatusBadRequest {
				t.Errorf("work report %s: got %d %s %q, want 400", work, code, e.Code, e.Message)
			}
		}
	}
	if a := getAgent(t, h.id.Agent); a.Status.CurrentWork != nil || len(a.Status.CompletedWork) != 0 {
		t.Errorf("refused work reports stored %+v %+v", a.Status.CurrentWork, a.Status.CompletedWork)
	}
	code, e = send("work-ok", fmt.Sprintf(`"kind":"work","work":{"id":"patch-openssl.0123abcd","agentUpdate":"patch-openssl","phase":"Running","started":%q}`, now))
	if code != http.StatusOK {
		t.Errorf("a sound work report: %d %s %q, want 200", code, e.Code, e.Message)
	}
}
