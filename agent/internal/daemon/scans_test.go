package daemon

import (
	"context"
	"log/slog"
	"testing"
	"time"

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
