package rollout

import (
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/util/intstr"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Limits resolves maxConcurrent and maxFailures against the number of
// targets. A percentage of concurrency rounds up (10% of 5 hosts is one
// host, never zero: a rollout must move); a percentage of failures rounds
// down (10% of 5 hosts tolerates none), erring on the side of halting.
func Limits(s redflagv1.RolloutStrategy, total int) (maxConcurrent, maxFailures int, err error) {
	maxConcurrent, err = scaled(s.MaxConcurrent, 1, total, true)
	if err != nil {
		return 0, 0, fmt.Errorf("spec.strategy.maxConcurrent: %w", err)
	}
	maxConcurrent = min(max(maxConcurrent, 1), redflagv1.MaxSlots)
	maxFailures, err = scaled(s.MaxFailures, 0, total, false)
	if err != nil {
		return 0, 0, fmt.Errorf("spec.strategy.maxFailures: %w", err)
	}
	return maxConcurrent, max(maxFailures, 0), nil
}

func scaled(v *intstr.IntOrString, def, total int, roundUp bool) (int, error) {
	if v == nil {
		return def, nil
	}
	if v.Type == intstr.Int {
		return v.IntValue(), nil
	}
	var pct int
	if _, err := fmt.Sscanf(v.StrVal, "%d%%", &pct); err != nil {
		return 0, fmt.Errorf("%q is neither a count nor a percentage: %w", v.StrVal, err)
	}
	f := float64(pct) * float64(total) / 100
	if roundUp {
		return int(math.Ceil(f)), nil
	}
	return int(math.Floor(f)), nil
}
