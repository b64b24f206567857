package gateway

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// TestCarryFirstSeen: a package still pending keeps the day it was first
// seen, even at a newer version; a new one starts now; securitySince is the
// oldest security item's.
func TestCarryFirstSeen(t *testing.T) {
	day := func(d int) metav1.Time { return metav1.NewTime(time.Date(2030, 1, d, 0, 0, 0, 0, time.UTC)) }
	d1, d3, d9 := day(1), day(3), day(9)
	prev := redflagv1.UpdateInventory{Items: []redflagv1.PendingUpdate{
		{Manager: "apt", Name: "openssl", AvailableVersion: "3.0.1", Security: true, FirstSeen: &d1},
		{Manager: "apt", Name: "curl", Security: true, FirstSeen: &d3}, // installed since
		{Manager: "apt", Name: "vim", FirstSeen: &d1},
	}}
	next := redflagv1.UpdateInventory{Items: []redflagv1.PendingUpdate{
		{Manager: "apt", Name: "openssl", AvailableVersion: "3.0.2", Security: true},
		{Manager: "apt", Name: "libc6", Security: true},
		{Manager: "dnf", Name: "vim"}, // another manager: another package
	}}
	carryFirstSeen(&next, prev, d9)
	want := []metav1.Time{d1, d9, d9}
	for i, it := range next.Items {
		if it.FirstSeen == nil || !it.FirstSeen.Equal(&want[i]) {
			t.Errorf("%s/%s firstSeen %v, want %v", it.Manager, it.Name, it.FirstSeen, want[i])
		}
	}
	if next.SecuritySince == nil || !next.SecuritySince.Equal(&d1) {
		t.Errorf("securitySince %v, want %v", next.SecuritySince, d1)
	}

	// openssl installed: the oldest security update left is libc6's.
	later := redflagv1.UpdateInventory{Items: []redflagv1.PendingUpdate{{Manager: "apt", Name: "libc6", Security: true}}}
	carryFirstSeen(&later, next, day(10))
	if later.SecuritySince == nil || !later.SecuritySince.Equal(&d9) {
		t.Errorf("after openssl was installed securitySince %v, want %v", later.SecuritySince, d9)
	}
	none := redflagv1.UpdateInventory{Items: []redflagv1.PendingUpdate{{Manager: "apt", Name: "vim"}}}
	carryFirstSeen(&none, later, day(11))
	if none.SecuritySince != nil {
		t.Errorf("securitySince %v with no security update pending", none.SecuritySince)
	}
}
