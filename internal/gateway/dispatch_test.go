package gateway

import (
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/schedule"
)

// TestUpdatesScansCarryTheRefreshBound: only an updates scan carries the
// bound: the plan's (0 included: never), or the default when no schedule
// asked for the scan; and a changed bound changes the answer cache's key.
func TestUpdatesScansCarryTheRefreshBound(t *testing.T) {
	plan := schedule.Plan{schedule.Updates: {Interval: time.Hour, RefreshListsAfter: 30 * time.Minute}}
	never := schedule.Plan{schedule.Updates: {Interval: time.Hour}}
	tests := []struct {
		name string
		req  protocol.ScanRequest
		plan schedule.Plan
		want string // "" for no bound
	}{
		{"from the plan", protocol.ScanRequest{Subsystem: "updates", ID: "u"}, plan, "30m0s"},
		{"never", protocol.ScanRequest{Subsystem: "updates", ID: "u"}, never, "0s"},
		{"no schedule: default", protocol.ScanRequest{Subsystem: "updates", ID: "u"}, nil, "4h0m0s"},
		{"not updates", protocol.ScanRequest{Subsystem: "storage", ID: "s"}, plan, ""},
	}
	for _, tt := range tests {
		got := withBound(tt.req, tt.plan)
		switch {
		case tt.want == "" && got.RefreshListsAfter != nil:
			t.Errorf("%s: bound %s, want none", tt.name, got.RefreshListsAfter)
		case tt.want != "" && (got.RefreshListsAfter == nil || got.RefreshListsAfter.String() != tt.want):
			t.Errorf("%s: bound %v, want %s", tt.name, got.RefreshListsAfter, tt.want)
		}
	}
	a := []protocol.ScanRequest{withBound(protocol.ScanRequest{Subsystem: "updates", ID: "u"}, plan)}
	b := []protocol.ScanRequest{withBound(protocol.ScanRequest{Subsystem: "updates", ID: "u"}, never)}
	if scansKey(a) == scansKey(b) {
		t.Errorf("scans with bounds 30m and 0 share the answer key %q", scansKey(a))
	}
}
