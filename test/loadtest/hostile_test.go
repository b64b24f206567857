package loadtest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// chartMemoryLimitMiB is charts/redflag's default manager memory limit.
const chartMemoryLimitMiB = 512

// TestHostileClientsStayWithinTheMemoryBudget holds 2,000 hostile
// connections (unsigned and forged 1 MiB reports sent but for their last
// byte, slow registrations, slow headers) from 16 addresses against the
// real manager for 20 s while 100 enrolled agents keep checking in: the
// manager stays under half the chart's memory limit, no legitimate
// check-in fails, and what can be judged before its body is refused at
// once.
func TestHostileClientsStayWithinTheMemoryBudget(t *testing.T) {
	bin := buildManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := Hostile(ctx, HostileOptions{ManagerBin: bin, Agents: 100, Attackers: 2000, AttackSources: 16, Hold: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log("\n" + out.String())
	if rep.CheckInErrors != 0 || rep.CheckIns < 100*15 {
		t.Errorf("%d of %d legitimate check-ins failed (first: %s); want none failed and about 2,000 made", rep.CheckInErrors, rep.CheckIns, rep.FirstError)
	}
	if limit := chartMemoryLimitMiB / 2.0; rep.PeakRSSMiB > limit || rep.HighWaterMiB > limit {
		t.Errorf("manager RSS peaked at %.0f MiB (high-water mark %.0f MiB); want under %.0f, half the chart's limit", rep.PeakRSSMiB, rep.HighWaterMiB, limit)
	}
	// Unsigned and forged-with-hash requests are refused on their headers
	// with 401, none is held. (A refusal can reach the client as a reset
	// instead: the gateway closes while the client is still sending the
	// body it will not read, and the reset may overtake the 401.)
	for _, kind := range []string{"unsigned", "forged"} {
		got := rep.Kinds[kind]
		if got["401"] < 300 || got["401"]+got["closed"]+got["dial failed"] != 400 {
			t.Errorf("%s: %v; want all 400 refused (401, or a reset racing it) before their body, none held", kind, got)
		}
	}
}
