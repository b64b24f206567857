package outbox

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

func report(key string) protocol.Report {
	return protocol.Report{IdempotencyKey: key, Kind: protocol.ReportEvent, Time: time.Unix(1_800_000_000, 0),
		Event: &protocol.AgentEvent{Reason: "AgentStarted", Message: "started"}}
}

func keys(t *testing.T, o *Outbox) []string {
	t.Helper()
	items, err := o.Pending()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Report.IdempotencyKey)
	}
	return out
}

func TestReportsSurviveReopenInOrder(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := o.Put(report(fmt.Sprint("k", i))); err != nil {
			t.Fatal(err)
		}
	}
	// A restart: a new Outbox on the same directory sees the same reports.
	again, _ := Open(dir, 0, 0)
	if got := fmt.Sprint(keys(t, again)); got != "[k0 k1 k2]" {
		t.Fatalf("after reopening: %s", got)
	}
	items, _ := again.Pending()
	if err := again.Ack(items[0]); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(t, again)); got != "[k1 k2]" {
		t.Fatalf("after acking the first: %s", got)
	}
}

func TestOldestDroppedAndCounted(t *testing.T) {
	o, _ := Open(t.TempDir(), 3, 0)
	for i := range 5 {
		if err := o.Put(report(fmt.Sprint("k", i))); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(keys(t, o)); got != "[k2 k3 k4]" {
		t.Errorf("kept %s, want the newest three", got)
	}
	if o.Dropped() != 2 {
		t.Errorf("dropped %d, want 2", o.Dropped())
	}
}

func TestCorruptFileIsSetAsideNotRetried(t *testing.T) {
	dir := t.TempDir()
	o, _ := Open(dir, 0, 0)
	_ = o.Put(report("good"))
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001-000001.json"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(t, o)); got != "[good]" {
		t.Errorf("pending %s", got)
	}
	if o.Dropped() != 1 {
		t.Errorf("dropped %d, want 1", o.Dropped())
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000001-000001.json.bad")); err != nil {
		t.Errorf("corrupt file not set aside: %v", err)
	}
}

func TestOversizedReportRefused(t *testing.T) {
	o, _ := Open(t.TempDir(), 0, 100)
	big := report("big")
	big.Event.Message = string(make([]byte, 200))
	if err := o.Put(big); err == nil {
		t.Error("a report larger than the whole outbox was accepted")
	}
}
