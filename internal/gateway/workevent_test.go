package gateway

import (
	"maps"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

// TestWorkEventsCarryTheirDocumentedKeys: each work transition's Event
// carries exactly the metadata keys docs/events.md lists for its reason; a
// self-update's name the old and new version and the platform.
func TestWorkEventsCarryTheirDocumentedKeys(t *testing.T) {
	at := metav1.NewTime(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	self := func(p redflagv1.WorkPhase) *redflagv1.WorkStatus {
		return &redflagv1.WorkStatus{ID: "up.1", AgentUpdate: "up", Phase: p, FinishedAt: &at, Reason: "Timeout", FromVersion: "v1.1.0", ToVersion: "v1.5.0"}
	}
	pkgs := func(p redflagv1.WorkPhase) *redflagv1.WorkStatus {
		return &redflagv1.WorkStatus{ID: "pk.1", AgentUpdate: "pk", Phase: p, FinishedAt: &at, Reason: "DpkgFailed"}
	}
	for _, tc := range []struct {
		ws   *redflagv1.WorkStatus
		want events.Reason
	}{
		{self(redflagv1.WorkRunning), events.AgentUpdateStarted},
		{self(redflagv1.WorkSucceeded), events.AgentUpdated},
		{self(redflagv1.WorkRolledBack), events.AgentRolledBack},
		{pkgs(redflagv1.WorkSucceeded), events.UpdatesInstalled},
		{pkgs(redflagv1.WorkFailed), events.InstallFailed},
	} {
		reason, _, meta, ok := workEvent(tc.ws, &workReport{}, "linux/amd64")
		if !ok || reason.Name != tc.want.Name {
			t.Errorf("%s %s: reason %s, want %s", tc.ws.ID, tc.ws.Phase, reason.Name, tc.want.Name)
			continue
		}
		if got, want := slices.Sorted(maps.Keys(meta)), slices.Sorted(slices.Values(tc.want.Metadata)); !slices.Equal(got, want) {
			t.Errorf("%s: keys %v, docs/events.md lists %v", reason.Name, got, want)
		}
		if tc.ws.ToVersion != "" && (meta["oldVersion"] != "v1.1.0" || meta["newVersion"] != "v1.5.0" || meta["platform"] != "linux/amd64") {
			t.Errorf("%s: self-update metadata %v", reason.Name, meta)
		}
	}
}
