package gateway

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// carryFirstSeen dates each listed update in next: a package the previous
// inventory listed keeps its firstSeen (a newer version of a pending update
// does not restart the wait), a new one is first seen at scanned. It then
// sets securitySince from the security items. The host's own clock never
// dates anything: scanned is the stored scan time the gateway vetted.
func carryFirstSeen(next *redflagv1.UpdateInventory, prev redflagv1.UpdateInventory, scanned metav1.Time) {
	type key struct {
		m redflagv1.PackageManager
		n string
	}
	seen := make(map[key]*metav1.Time, len(prev.Items))
	for _, it := range prev.Items {
		if it.FirstSeen != nil {
			seen[key{it.Manager, it.Name}] = it.FirstSeen
		}
	}
	next.SecuritySince = nil
	for i := range next.Items {
		it := &next.Items[i]
		it.FirstSeen = scanned.DeepCopy()
		if t, ok := seen[key{it.Manager, it.Name}]; ok && t.Before(&scanned) {
			it.FirstSeen = t.DeepCopy()
		}
		if it.Security && (next.SecuritySince == nil || it.FirstSeen.Before(next.SecuritySince)) {
			next.SecuritySince = it.FirstSeen.DeepCopy()
		}
	}
}
