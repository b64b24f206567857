package rollout

import (
	"slices"
	"time"

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
	// LastCheckIn is the host's stored last check-in (status.lastSeen);
	// zero when it never checked in.
	LastCheckIn time.Time
	// Timeout is how long the host may be silent while it holds a slot or
	// runs this rollout's work (see SilenceBound); 0 never times out.
	Timeout time.Duration
	// RebootSince, when set, is when the host finished its work and went
	// to reboot: it must be back within Timeout of it, checking in or
	// not (a host whose reboot command failed checks in but never comes
	// back).
	RebootSince time.Time
}

// HostTimedOut is the reason a host that went silent while working for a
// rollout is recorded as failed with.
const HostTimedOut = "HostTimedOut"

// SilenceBound is how long a host may go without a stored check-in while
// it works for a rollout: the rollout's hostTimeout, but never less than
// the SilentAfter of the host's check-in interval. A live host's stored
// lastSeen lags its real check-ins by up to PersistFactor intervals plus
// one check-in, less than SilentAfter, so a host that is merely between
// persisted check-ins is never taken for silent.
func SilenceBound(hostTimeout, silentAfter time.Duration) time.Duration {
	return max(hostTimeout, silentAfter)
}

// Input is everything a plan depends on.
type Input struct {
	// Targets sorted by name: the order hosts start in, and the canaries
	// are the first ones, so a restart picks the same hosts.
	Targets []Target
	// Slots are the hosts holding a slot now (status.slots).
	Slots []string
	// SlotSince is when each slot was granted (status.slots[].since).
	SlotSince map[string]time.Time
	// Hosts that hold a slot or run this rollout's work but are no longer
	// targeted (a label changed): they still count against maxConcurrent
	// while their work runs (or until they time out; Result is unused).
	UntargetedRunning []Target
	// Now is the instant silence is judged at.
	Now           time.Time
	MaxConcurrent int
	MaxFailures   int
	Canary        int
	Paused        bool
	WindowOpen    bool
	// Reboots: this rollout's hosts may reboot after their work (a reboot
	// policy other than Never, not a dry run).
	Reboots bool
	// RebootBudget is how many hosts of the namespace may be in the work
	// of rollouts that reboot at once, across all of them (kured's lock,
	// counted); 0 means no budget.
	RebootBudget int
	// RebootingElsewhere counts the hosts other rebooting rollouts of the
	// namespace hold: a slot, work running, or a reboot not yet back.
	RebootingElsewhere int
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
	// RebootBudgetFull: a host would have started but the namespace's
	// reboot budget is taken.
	RebootBudgetFull bool
	// TimedOut are hosts that held a slot or ran the work and were silent
	// longer than their Timeout: they lost their slot, and the targets among
	// them count as Failed (HostTimedOut) in this plan. The controller must
	// store that failure on each Agent before it stores the plan, so the
	// decision survives a restart.
	TimedOut []string
	// NextTimeout is the earliest instant a host that keeps working in
	// this plan would time out if it stays silent; zero when none can.
	NextTimeout time.Time
}

// Decide computes the next slot set. Its promises, checked by the property
// test: at most MaxConcurrent hosts hold a slot or run this rollout's work;
// no host starts once the failed count exceeds MaxFailures or a canary
// failed; no host outside the canaries starts before every canary is done;
// no host starts while paused, outside the window, or while another
// rollout holds it; a rollout that reboots starts no host once its own
// working hosts plus RebootingElsewhere reach RebootBudget.
//
// A host that holds a slot or runs the work and has been silent for its
// Timeout (since its last check-in, or since its slot was granted if that
// is later) is timed out first: it counts as Failed with reason
// HostTimedOut from then on, so it never keeps a slot and the failure
// budget applies to it as to any failure.
func Decide(in Input) Plan {
	var p Plan
	in.Targets, in.UntargetedRunning = slices.Clone(in.Targets), slices.Clone(in.UntargetedRunning)
	p.TimedOut, p.NextTimeout = timeOut(&in)
	byName := make(map[string]*Target, len(in.Targets))
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
		busy[h.Name] = true
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
	if in.Reboots && in.RebootBudget > 0 {
		// Every host this rollout holds may be rebooting: together with
		// the other rebooting rollouts' hosts they stay within the budget.
		if left := in.RebootBudget - in.RebootingElsewhere - len(busy); left < free {
			free = left
			p.RebootBudgetFull = free <= 0 && slices.ContainsFunc(candidates, func(t Target) bool {
				return t.Result.Outcome == Pending && t.Eligible && t.BusyWith == "" && !slices.Contains(p.Slots, t.Name)
			})
		}
	}
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
		if d := in.Now.Add(t.Timeout); t.Timeout > 0 && (p.NextTimeout.IsZero() || d.Before(p.NextTimeout)) {
			// Its slot is granted now: silence is counted from here.
			p.NextTimeout = d
		}
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

// timeOut marks the working hosts silent past their Timeout: targets
// become Failed (HostTimedOut) and untargeted ones stop counting. It
// returns them and the earliest instant one of the others would time out.
// A pending slot holder the plan releases anyway (rollout paused, Agent
// paused or held by another rollout) is not judged: it is not working.
func timeOut(in *Input) (out []string, next time.Time) {
	holds := make(map[string]bool, len(in.Slots))
	for _, h := range in.Slots {
		holds[h] = true
	}
	// deadline is when h counts as silent; zero when it cannot time out.
	deadline := func(t *Target) time.Time {
		since := t.LastCheckIn
		if s, ok := in.SlotSince[t.Name]; ok && holds[t.Name] && s.After(since) {
			since = s
		}
		if !t.RebootSince.IsZero() {
			since = t.RebootSince
		}
		if t.Timeout <= 0 || since.IsZero() {
			return time.Time{}
		}
		return since.Add(t.Timeout)
	}
	judge := func(t *Target) bool {
		d := deadline(t)
		if d.IsZero() {
			return false
		}
		if !in.Now.Before(d) {
			out = append(out, t.Name)
			return true
		}
		if next.IsZero() || d.Before(next) {
			next = d
		}
		return false
	}
	for i := range in.Targets {
		t := &in.Targets[i]
		working := t.Result.Outcome == Running ||
			t.Result.Outcome == Pending && holds[t.Name] && t.Eligible && t.BusyWith == "" && !in.Paused
		if working && judge(t) {
			t.Result = HostResult{Outcome: Failed, Reason: HostTimedOut}
		}
	}
	in.UntargetedRunning = slices.DeleteFunc(in.UntargetedRunning, func(t Target) bool { return judge(&t) })
	return out, next
}
