package rollout

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

func TestInventoryAfterWork(t *testing.T) {
	scanned := metav1.NewTime(time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC))
	finished := metav1.NewTime(scanned.Add(time.Minute))
	st := &redflagv1.AgentStatus{
		Updates: redflagv1.UpdateInventory{ScannedAt: &scanned, Total: 2, Items: []redflagv1.PendingUpdate{
			{Manager: redflagv1.ManagerApt, Name: "curl", AvailableVersion: "8.1"},
			{Manager: redflagv1.ManagerApt, Name: "openssl", AvailableVersion: "3.1"},
		}},
		CurrentWork: &redflagv1.WorkStatus{Phase: redflagv1.WorkSucceeded, FinishedAt: &finished, Changes: []redflagv1.PackageChange{
			{Manager: redflagv1.ManagerApt, Name: "curl", From: "8.0", To: "8.1"},
		}},
	}
	got := InventoryAfterWork(st)
	if len(got.Items) != 1 || got.Items[0].Name != "openssl" || got.Total != 1 {
		t.Errorf("after installing curl: %+v, want only openssl pending", got)
	}
	if len(st.Updates.Items) != 2 {
		t.Error("the Agent's own inventory was changed")
	}
	later := metav1.NewTime(finished.Add(time.Second))
	st.Updates.ScannedAt = &later
	if got := InventoryAfterWork(st); len(got.Items) != 2 {
		t.Errorf("a scan after the install is taken as it is: %+v", got)
	}
}

func TestPendingOn(t *testing.T) {
	scanned := metav1.Now()
	apt := func(name string, security bool) redflagv1.PendingUpdate {
		return redflagv1.PendingUpdate{Manager: redflagv1.ManagerApt, Name: name, Security: security}
	}
	inv := func(items ...redflagv1.PendingUpdate) *redflagv1.UpdateInventory {
		return &redflagv1.UpdateInventory{ScannedAt: &scanned, Total: int32(len(items)), Items: items}
	}
	all := &redflagv1.PackageSelection{Scope: redflagv1.ScopeAll}
	security := &redflagv1.PackageSelection{Scope: redflagv1.ScopeSecurity}
	named := &redflagv1.PackageSelection{Scope: redflagv1.ScopeNamed, Names: []string{"openssl"}}
	excluding := &redflagv1.PackageSelection{Scope: redflagv1.ScopeAll, Exclude: []string{"linux-image-*"}}
	dnfOnly := &redflagv1.PackageSelection{Scope: redflagv1.ScopeAll, Managers: []redflagv1.PackageManager{redflagv1.ManagerDnf}}
	image := &redflagv1.PackageSelection{Scope: redflagv1.ScopeNamed, Names: []string{"nginx"}}
	truncated := inv(apt("curl", false))
	truncated.Total, truncated.Truncated = 300, true

	for _, tc := range []struct {
		name  string
		sel   *redflagv1.PackageSelection
		inv   *redflagv1.UpdateInventory
		holds []string
		want  Inventory
	}{
		{"never scanned", all, &redflagv1.UpdateInventory{}, nil, PendingUnknown},
		{"agentVersion rollout", nil, inv(), nil, PendingUnknown},
		{"nothing pending", all, inv(), nil, PendingNothing},
		{"something pending", all, inv(apt("curl", false)), nil, PendingSome},
		{"security only, none", security, inv(apt("curl", false)), nil, PendingNothing},
		{"security only, one", security, inv(apt("curl", false), apt("openssl", true)), nil, PendingSome},
		{"named, other pending", named, inv(apt("curl", false)), nil, PendingNothing},
		{"named, it pending", named, inv(apt("openssl", true)), nil, PendingSome},
		{"excluded", excluding, inv(apt("linux-image-amd64", true)), nil, PendingNothing},
		{"other manager", dnfOnly, inv(apt("curl", false)), nil, PendingNothing},
		{"all held", all, inv(apt("curl", false), apt("openssl", true)), []string{"curl", "openssl"}, PendingHeldOnly},
		{"one held, one not", all, inv(apt("curl", false), apt("openssl", true)), []string{"openssl"}, PendingSome},
		{"held but not selected", named, inv(apt("curl", false)), []string{"curl"}, PendingNothing},
		{"held on the host", all, inv(redflagv1.PendingUpdate{Manager: redflagv1.ManagerApt, Name: "curl", Held: true}), nil, PendingHeldOnly},
		{"truncated list without a match", named, truncated, nil, PendingUnknown},
		{"image names are the agent's to match", image, inv(redflagv1.PendingUpdate{Manager: redflagv1.ManagerDocker, Name: "docker.io/library/nginx:1.27"}), nil, PendingSome},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PendingOn(tc.sel, tc.inv, tc.holds); got != tc.want {
				t.Errorf("PendingOn = %d, want %d", got, tc.want)
			}
		})
	}
}
