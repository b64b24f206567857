package gateway

import (
	"context"
	"encoding/json"
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
	inv := redflagv1.UpdateInventory{Total: 1, ByManager: map[string]int32{"apt": 1},
		Items: []redflagv1.PendingUpdate{{Manager: "apt", Name: "openssl", CurrentVersion: "3.0.1", AvailableVersion: "3.0.2", Security: true}}}
	report := func(key string, finished time.Time) {
		t.Helper()
		_, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: key, Kind: protocol.ReportScan, Time: finished, Scan: &protocol.ScanResult{
			Subsystem: "updates", ID: scans[0].ID, Result: redflagv1.RunSucceeded, Finished: finished, Updates: &inv, UpdatesHash: "inv-1",
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
	time.Sleep(300 * time.Millisecond)
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
