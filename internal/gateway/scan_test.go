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

func dueScans(t *testing.T, h *fakeHost) []protocol.ScanRequest {
	t.Helper()
	sd, err := host.CheckIn(context.Background(), h.id, protocol.CheckInRequest{FactsHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var doc protocol.WorkDocument
	if err := json.Unmarshal(sd.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Scans
}

// TestScansAreDueUntilStoredAndUnchangedResultsWriteNothing: a scheduled
// scan is handed out at every check-in until its result is stored; a later
// result that changes nothing but the time makes no API write, yet the scan
// is no longer due.
func TestScansAreDueUntilStoredAndUnchangedResultsWriteNothing(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	ns, _, _ := strings.Cut(h.id.Agent, "/")
	sched := &redflagv1.ScanSchedule{Spec: redflagv1.ScanScheduleSpec{Subsystems: redflagv1.ScanSubsystems{
		Updates: &redflagv1.UpdatesSchedule{SubsystemSchedule: redflagv1.SubsystemSchedule{Interval: metav1.Duration{Duration: time.Hour}}},
	}}}
	sched.Namespace, sched.Name = ns, "hourly"
	if err := env.Client.Create(ctx, sched); err != nil {
		t.Fatal(err)
	}
	var scans []protocol.ScanRequest
	eventually(t, "the scan to be due", func() bool { scans = dueScans(t, h); return len(scans) == 1 })
	// The API server defaulted refreshListsAfter, and the bound travels
	// with the scan to the agent.
	if b := scans[0].RefreshListsAfter; b == nil || b.Duration != redflagv1.DefaultRefreshListsAfter {
		t.Fatalf("updates scan carries refresh bound %v, want the default %s", b, redflagv1.DefaultRefreshListsAfter)
	}
	if again := dueScans(t, h); len(again) != 1 || again[0].ID != scans[0].ID {
		t.Fatalf("a scan whose result has not arrived must stay due with the same ID: %v then %v", scans, again)
	}
	inv := protocol.UpdateInventory{Total: 1, ByManager: map[string]int32{"apt": 1},
		Items: []protocol.PendingUpdate{{Manager: "apt", Name: "openssl", CurrentVersion: "3.0.1", AvailableVersion: "3.0.2", Security: true}}}
	report := func(key string, finished time.Time) {
		t.Helper()
		_, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: key, Kind: protocol.ReportScan, Time: finished, Scan: &protocol.ScanResult{
			Subsystem: "updates", ID: scans[0].ID, Result: protocol.RunSucceeded, Finished: finished, Updates: &inv, UpdatesHash: "inv-1",
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	report("scan-1", time.Now())
	a := getAgent(t, h.id.Agent)
	if a.Status.Updates.Total != 1 || a.Status.Updates.Hash != "inv-1" || len(a.Status.Subsystems) != 1 {
		t.Fatalf("first result not stored: %+v", a.Status)
	}
	// The gateway judges the next request against what it wrote, not an
	// informer that may lag: the scan is no longer due at once.
	if due := dueScans(t, h); len(due) != 0 {
		t.Errorf("scans %v still due right after their result was stored", due)
	}

	// The same result again, an hour later: no write, and not due.
	before, rv := writes.Load(), getAgent(t, h.id.Agent).ResourceVersion
	report("scan-2", time.Now().Add(time.Minute))
	// A report is stored before its answer; only background writes could
	// still come.
	eventually(t, "the gateway's background writes to finish", gw.backgroundIdle)
	if n := writes.Load() - before; n != 0 {
		t.Errorf("an unchanged scan result made %d API writes, want 0", n)
	}
	if got := getAgent(t, h.id.Agent).ResourceVersion; got != rv {
		t.Error("an unchanged scan result changed the Agent")
	}
	if due := dueScans(t, h); len(due) != 0 {
		t.Errorf("scans %v due right after a run", due)
	}
}

// TestPendingUpdatesKeepWhenTheyWereFirstSeen: each pending update is
// stamped with the scan that first reported its package, the stamp is
// kept while the package stays pending (even at a newer version), starts
// anew once it was gone, and a host cannot choose it.
func TestPendingUpdatesKeepWhenTheyWereFirstSeen(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	ns, _, _ := strings.Cut(h.id.Agent, "/")
	sched := &redflagv1.ScanSchedule{Spec: redflagv1.ScanScheduleSpec{Subsystems: redflagv1.ScanSubsystems{
		Updates: &redflagv1.UpdatesSchedule{SubsystemSchedule: redflagv1.SubsystemSchedule{Interval: metav1.Duration{Duration: time.Hour}}},
	}}}
	sched.Namespace, sched.Name = ns, "hourly"
	if err := env.Client.Create(ctx, sched); err != nil {
		t.Fatal(err)
	}
	var scans []protocol.ScanRequest
	eventually(t, "the scan to be due", func() bool { scans = dueScans(t, h); return len(scans) == 1 })
	base := time.Now().Add(-4 * time.Hour).Truncate(time.Second)
	forged := "2001-01-01T00:00:00Z"
	report := func(n int, items ...protocol.PendingUpdate) map[string]time.Time {
		t.Helper()
		at := protocol.NewTime(base.Add(time.Duration(n) * time.Hour))
		inv := protocol.UpdateInventory{Total: int32(len(items)), Items: items, ScannedAt: &at}
		rep := protocol.Report{IdempotencyKey: "scan-" + at.String(), Kind: protocol.ReportScan, Time: at.Time,
			Scan: &protocol.ScanResult{Subsystem: "updates", ID: scans[0].ID, Result: protocol.RunSucceeded, Finished: at.Time, Updates: &inv, UpdatesHash: at.String()}}
		// The wire type has no firstSeen; a hostile host adds its own to
		// every item, as JSON, and the gateway must ignore it.
		var body map[string]any
		if b, err := json.Marshal(rep); err != nil || json.Unmarshal(b, &body) != nil {
			t.Fatalf("encoding the report: %v", err)
		}
		for _, it := range body["scan"].(map[string]any)["updates"].(map[string]any)["items"].([]any) {
			it.(map[string]any)["firstSeen"] = forged
		}
		b, _ := json.Marshal(body)
		code, resp, err := host.Post(ctx, protocol.PathReport, b, &h.id, nil)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("report refused: %d %s", code, resp)
		}
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]time.Time{}
		for _, it := range getAgent(t, h.id.Agent).Status.Updates.Items {
			if it.FirstSeen == nil {
				t.Fatalf("scan %d: %s stored without firstSeen", n, it.Name)
			}
			seen[it.Name] = it.FirstSeen.Time
		}
		return seen
	}
	openssl := func(v string) protocol.PendingUpdate {
		return protocol.PendingUpdate{Manager: "apt", Name: "openssl", AvailableVersion: v, Security: true}
	}
	curl := protocol.PendingUpdate{Manager: "apt", Name: "curl", AvailableVersion: "8.1"}
	want := func(n int, got map[string]time.Time, name string, scan int) {
		t.Helper()
		if w := base.Add(time.Duration(scan) * time.Hour); !got[name].Equal(w) {
			t.Errorf("after scan %d, %s firstSeen %s, want scan %d's time %s", n, name, got[name], scan, w)
		}
	}
	want(0, report(0, openssl("3.0.2")), "openssl", 0)
	s1 := report(1, openssl("3.0.3"), curl)
	want(1, s1, "openssl", 0)
	want(1, s1, "curl", 1)
	report(2, curl)
	want(3, report(3, openssl("3.0.4"), curl), "openssl", 3)
}
