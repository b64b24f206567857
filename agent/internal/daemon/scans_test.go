package daemon

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// A scan offered again after its result was acknowledged means the gateway
// forgot the result (restart, other replica): the agent sends it once more
// instead of ignoring the offer forever, and does not rerun the scan.
func TestScanOfferedAgainAfterItsResultResendsTheResultOnce(t *testing.T) {
	s := &scans{log: slog.New(slog.DiscardHandler), running: map[string]string{}, lastDone: map[string]string{},
		lastResult: map[string]*protocol.ScanResult{}, lastDoneAt: map[string]time.Time{}, resent: map[string]string{}, finished: make(chan struct{}, 1)}
	result := &protocol.ScanResult{Subsystem: "storage", ID: "storage-100", Result: "Succeeded"}
	s.lastDone["storage"], s.lastResult["storage"] = "storage-100", result
	var sent []protocol.Report
	queue := func(r protocol.Report) { sent = append(sent, r) }
	offer := []protocol.ScanRequest{{Subsystem: "storage", ID: "storage-100"}}

	// Just finished: the offer is the gateway's cache catching up.
	s.lastDoneAt["storage"] = time.Now()
	s.start(context.Background(), offer, queue)
	if len(sent) != 0 {
		t.Fatalf("resent %d reports right after the scan; want none", len(sent))
	}
	s.lastDoneAt["storage"] = time.Now().Add(-2 * resendAfter)

	s.start(context.Background(), offer, queue)
	if len(sent) != 1 || sent[0].Scan != result {
		t.Fatalf("sent %+v: want the stored result once more", sent)
	}
	s.start(context.Background(), offer, queue)
	if len(sent) != 1 {
		t.Fatalf("the result was resent %d times for one offer ID; want once", len(sent))
	}
	if len(s.running) != 0 {
		t.Fatalf("the scan was run again: %v", s.running)
	}
}

// optionScanner records the refresh bound of every scan.
type optionScanner struct {
	mu     sync.Mutex
	bounds []time.Duration
}

func (o *optionScanner) Manager() protocol.PackageManager { return protocol.ManagerApt }

func (o *optionScanner) Scan(ctx context.Context) ([]protocol.PendingUpdate, error) {
	return o.ScanWith(ctx, scan.Options{})
}

func (o *optionScanner) ScanWith(_ context.Context, opts scan.Options) ([]protocol.PendingUpdate, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bounds = append(o.bounds, opts.RefreshListsAfter)
	return nil, nil
}

// TestScansUseTheGatewaysRefreshBound: an updates scan refreshes the
// package lists by the bound its request carries; without one (an older
// gateway) by the default; the agent's own rescan by the last bound the
// gateway sent.
func TestScansUseTheGatewaysRefreshBound(t *testing.T) {
	sc := &optionScanner{}
	s := scansWith(t, sc)
	var got reports
	ctx := t.Context()
	run := func(reqs ...protocol.ScanRequest) {
		t.Helper()
		s.start(ctx, reqs, got.queue)
		s.wait()
	}
	run(protocol.ScanRequest{Subsystem: "updates", ID: "updates-1"})
	run(protocol.ScanRequest{Subsystem: "updates", ID: "updates-2", RefreshListsAfter: &protocol.Duration{Duration: 30 * time.Minute}})
	<-s.rescan(ctx, "updates", "updates-after-w1", got.queue)
	run(protocol.ScanRequest{Subsystem: "updates", ID: "updates-3", RefreshListsAfter: &protocol.Duration{}})
	want := []time.Duration{protocol.DefaultRefreshListsAfter, 30 * time.Minute, 30 * time.Minute, 0}
	if !slices.Equal(sc.bounds, want) {
		t.Fatalf("scans ran with bounds %v, want %v", sc.bounds, want)
	}
}
