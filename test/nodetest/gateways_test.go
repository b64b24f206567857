//go:build linux

package nodetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/redflag-io/redflag/internal/gateway"
)

// assertGatewaysShareTheFleet checks that the separate gateway's two pods
// serve one fleet: each announces itself with a peer Lease naming its pod,
// and when one pod is deleted the hosts it owned are served by the other
// at once, so every host checks in again within a few check-in intervals
// and no check-in fails in a way the host would not retry. The Deployment
// then brings the second pod back.
func (h *helmEnv) assertGatewaysShareTheFleet(ctx context.Context) {
	t := h.t
	t.Helper()
	var pods []string
	h.waitFor(ctx, 60*time.Second, "a live peer Lease for each of the two gateway pods", func() error {
		var list corev1.PodList
		if err := h.c.List(ctx, &list, client.InNamespace(helmNamespace),
			client.MatchingLabels{"app.kubernetes.io/instance": helmRelease, "app.kubernetes.io/component": "gateway"}); err != nil {
			return err
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				pods = append(pods, p.Name)
			}
		}
		if len(pods) != 2 {
			return fmt.Errorf("gateway pods %v", pods)
		}
		var leases coordinationv1.LeaseList
		if err := h.c.List(ctx, &leases, client.InNamespace(helmNamespace), client.HasLabels{gateway.PeerLabel}); err != nil {
			return err
		}
		var live []string
		for _, l := range leases.Items {
			if l.Spec.RenewTime != nil && time.Since(l.Spec.RenewTime.Time) < 30*time.Second {
				live = append(live, strings.TrimPrefix(l.Name, "redflag-gateway-"))
			}
		}
		for _, p := range pods {
			if !slices.Contains(live, p) {
				return fmt.Errorf("no live peer Lease for gateway pod %s (live: %v)", p, live)
			}
		}
		return nil
	})

	// Delete one replica as a node drain would; its hosts move to the other.
	var errs []string
	deleted := time.Now()
	victim := &corev1.Pod{}
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: pods[0]}, victim); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	lastErr := map[string]time.Time{}
	h.waitFor(ctx, 45*time.Second, "every host checking in after gateway pod "+pods[0]+" was deleted", func() error {
		for _, hs := range h.hosts {
			if st, err := hs.state(); err == nil && st.LastErrorAt != nil && st.LastErrorAt.After(deleted) && !st.LastErrorAt.Equal(lastErr[hs.name]) {
				lastErr[hs.name] = *st.LastErrorAt
				errs = append(errs, hs.name+": "+st.LastError)
			}
		}
		return h.checkedInSince(deleted)
	})
	t.Logf("every host checked in %s after gateway pod %s was deleted; errors meanwhile: %q",
		time.Since(deleted).Round(100*time.Millisecond), pods[0], errs)
	for _, e := range errs {
		if !retryable.MatchString(e) {
			t.Errorf("a check-in failed in a way the host does not retry while a gateway pod went away: %s", e)
		}
	}
	h.assertPodsReady(ctx, 3)
}
