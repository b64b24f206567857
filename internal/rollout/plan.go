package rollout

import (
	"slices"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Target is one host a rollout targets, as the controller sees it now.
type Target struct {
	Name string
	// Eligible is false for a paused or revoked Agent: it gets no new work.
	Eligible bool
	Result   HostResult
	// BusyWith names another rollout that holds this host (a slot, or work
	// running on it) and goes before this one; empty when free.
	BusyWith string
}

// Input is everything a plan depends on.
type Input struct {
	// Targets sorted by name: the order hosts start in, and the canaries
	// are the first ones, so a restart picks the same hosts.
	Targets []Target
	// Slots are the hosts holding a slot now (status.slots).
	Slots []string
	// Hosts that hold a slot or run this rollout's work but are no longer
	// targeted (a label changed): they still count against maxConcurrent
	// while their work runs.
	UntargetedRunning []string
	MaxConcurrent     int
	MaxFailures       int
	Canary            int
	Paused            bool
	WindowOpen        bool
}

// Plan is what the controller writes and tells.
type Plan struct {
	// Slots is the new slot set: the kept ones, then the new ones in start order.
	Slots []string
	// Started are the hosts that got a slot in this plan.
	Started []string
	Counts  redflagv1.RolloutCounts
	// Halted: the failure budget is spent (or a canary failed); nothing new starts.
	Halted       bool
	CanaryFailed bool
	// Done: every target succeeded, was skipped or failed within the budget.
	Done bool
	// WaitingOn names the rollout holding the next host we would start.
	WaitingOn string
}

// Decide computes the next slot set. Its promises, checked by the property
// test: at most MaxConcurrent hosts hold a slot or run this rollout's work;
// no host starts once the failed count exceeds MaxFailures or a canary
// failed; no host outside the canaries starts before every canary is done;
// no host starts while paused, outside the window, or while another
// rollout holds it.
func Decide(in Input) Plan {
	byName := make(map[string]*Target, len(in.Targets))
	var p Plan
	for i := range in.Targets {
		t := &in.Targets[i]
		byName[t.Name] = t
		p.Counts.Total++
		switch t.Result.Outcome {
		case Succeeded:
			p.Counts.Succeeded++
		case Failed:
			p.Counts.Failed++
		case Skipped:
			p.Counts.Skipped++
		}
	}

	canaries := in.Targets[:min(max(in.Canary, 0), len(in.Targets))]
	canariesDone := true
	for _, c := range canaries {
		if c.Result.Outcome == Failed {
			p.CanaryFailed = true
		}
		if !c.Result.Outcome.Done() {
			canariesDone = false
		}
	}
	p.Halted = int(p.Counts.Failed) > in.MaxFailures || p.CanaryFailed

	// Keep a slot while its host still owes a result; release it when the
	// host finished or left the rollout, and release unstarted ones when the
	// rollout is paused or halted. Hosts already running keep counting
	// against the limit either way.
	busy := map[string]bool{}
	for _, h := range in.UntargetedRunning {
		busy[h] = true
	}
	for _, h := range in.Slots {
		t, ok := byName[h]
		if !ok {
			continue
		}
		switch {
		case t.Result.Outcome == Running:
			busy[h] = true
			p.Slots = append(p.Slots, h)
		case t.Result.Outcome != Pending || in.Paused || p.Halted || !t.Eligible:
		case t.BusyWith != "":
			// Another rollout that goes first holds it (a race between two
			// controllers' views): let go unless our work already started.
		default:
			busy[h] = true
			p.Slots = append(p.Slots, h)
		}
	}
	for _, t := range in.Targets {
		if t.Result.Outcome == Running {
			busy[t.Name] = true
		}
	}

	pending := 0
	for _, t := range in.Targets {
		if t.Result.Outcome == Pending {
			pending++
		}
	}
	p.Counts.InProgress = int32(len(busy))
	p.Counts.Pending = int32(pending) - int32(countPendingIn(p.Slots, byName))
	p.Done = pending == 0 && p.Counts.InProgress == 0 && !p.Halted

	if p.Halted || in.Paused || !in.WindowOpen {
		return p
	}
	candidates := in.Targets
	if !canariesDone {
		candidates = canaries
	}
	free := in.MaxConcurrent - len(busy)
	for _, t := range candidates {
		if free <= 0 {
			break
		}
		if t.Result.Outcome != Pending || !t.Eligible || slices.Contains(p.Slots, t.Name) {
			continue
		}
		if t.BusyWith != "" {
			if p.WaitingOn == "" {
				p.WaitingOn = t.BusyWith
			}
			continue
		}
		p.Slots = append(p.Slots, t.Name)
		p.Started = append(p.Started, t.Name)
		p.Counts.Pending--
		p.Counts.InProgress++
		free--
	}
	return p
}

// countPendingIn counts slot holders that have not reported a start: they
// are in progress, not pending.
func countPendingIn(slots []string, byName map[string]*Target) int {
	n := 0
	for _, h := range slots {
		if t := byName[h]; t != nil && t.Result.Outcome == Pending {
			n++
		}
	}
	return n
}
