package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

var (
	descSeatsUsed = prometheus.NewDesc("redflag_registrationtoken_seats_used",
		"Hosts the RegistrationToken enrolled (status.usedCount).",
		[]string{"namespace", "registrationtoken"}, nil)
	descSeatsLeft = prometheus.NewDesc("redflag_registrationtoken_seats_left",
		"Seats the RegistrationToken has left (spec.maxUses minus status.usedCount); absent for a token without maxUses.",
		[]string{"namespace", "registrationtoken"}, nil)
	descExpiry = prometheus.NewDesc("redflag_registrationtoken_expiry_seconds",
		"Seconds until the RegistrationToken expires, negative once it has; absent for a token that never expires.",
		[]string{"namespace", "registrationtoken"}, nil)
)

// allFleetDescs is every fleet metric, for Describe.
var allFleetDescs = []*prometheus.Desc{
	descAgents, descPending, descPendingSecurity, descLastSeen, descSilent, descOldestSecurity,
	descRolloutPhase, descRolloutHosts, descRolloutSlots, descRolloutIdle,
	descSeatsUsed, descSeatsLeft, descExpiry,
}

func collectTokens(ch chan<- prometheus.Metric, tokens []redflagv1.RegistrationToken, now time.Time) {
	for i := range tokens {
		t := &tokens[i]
		gauge(ch, descSeatsUsed, float64(t.Status.UsedCount), t.Namespace, t.Name)
		if t.Spec.MaxUses != nil {
			gauge(ch, descSeatsLeft, float64(max(*t.Spec.MaxUses-t.Status.UsedCount, 0)), t.Namespace, t.Name)
		}
		if t.Status.ExpiresAt != nil {
			gauge(ch, descExpiry, t.Status.ExpiresAt.Sub(now).Seconds(), t.Namespace, t.Name)
		}
	}
}
