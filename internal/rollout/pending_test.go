package rollout

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

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
