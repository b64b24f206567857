package rollout

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// world is a model of a rollout: hosts, what the controller stored
// (slots), and what hosts did. The controller keeps nothing in memory: a
// restart between deciding and writing simply loses the decision, which is
// how the real controller behaves (slots are written before hosts are told).
type world struct {
	rng         *rand.Rand
	hosts       []string
	targeted    map[string]bool
	eligible    map[string]bool
	outcome     map[string]Outcome
	slots       []string
	paused      bool
	maxConc     int
	maxFail     int
	canary      int
	started     []string // order hosts started in
	slotGrants  int
	grantFailed bool // a slot was granted while the failure budget was spent
	log         []string
}

func newWorld(seed uint64) *world {
	rng := rand.New(rand.NewPCG(seed, seed*7919+1))
	w := &world{rng: rng, targeted: map[string]bool{}, eligible: map[string]bool{}, outcome: map[string]Outcome{}}
	n := 3 + rng.IntN(12)
	for i := range n {
		h := fmt.Sprintf("host-%02d", i)
		w.hosts = append(w.hosts, h)
		w.targeted[h] = rng.IntN(5) > 0
		w.eligible[h] = rng.IntN(8) > 0
	}
	w.maxConc = 1 + rng.IntN(4)
	w.maxFail = rng.IntN(3)
	w.canary = rng.IntN(3)
	return w
}

func (w *world) input() Input {
	in := Input{Slots: slices.Clone(w.slots), MaxConcurrent: w.maxConc, MaxFailures: w.maxFail, Canary: w.canary, Paused: w.paused, WindowOpen: true}
	for _, h := range w.hosts {
		if w.targeted[h] {
			in.Targets = append(in.Targets, Target{Name: h, Eligible: w.eligible[h], Result: HostResult{Outcome: w.outcome[h]}})
		} else if w.outcome[h] == Running {
			in.UntargetedRunning = append(in.UntargetedRunning, h)
		}
	}
	return in
}

func (w *world) failed() int {
	n := 0
	for _, h := range w.hosts {
		if w.targeted[h] && w.outcome[h] == Failed {
			n++
		}
	}
	return n
}

// reconcile decides and, unless the controller "crashes" first, writes.
func (w *world) reconcile() {
	in := w.input()
	plan := Decide(in)
	if w.rng.IntN(6) == 0 {
		w.log = append(w.log, "controller restarted before writing")
		return
	}
	if len(plan.Started) > 0 && w.failed() > w.maxFail {
		w.grantFailed = true
	}
	w.slotGrants += len(plan.Started)
	w.slots = plan.Slots
	w.log = append(w.log, fmt.Sprintf("reconcile: slots %v started %v", plan.Slots, plan.Started))
}

// checkIn is a host asking the gateway for work: it starts only when it
// holds a stored slot, is eligible and has not run the work.
func (w *world) checkIn(h string) {
	if slices.Contains(w.slots, h) && w.eligible[h] && w.outcome[h] == Pending {
		w.outcome[h] = Running
		w.started = append(w.started, h)
		w.log = append(w.log, h+" started")
	}
}

func (w *world) step() {
	h := w.hosts[w.rng.IntN(len(w.hosts))]
	switch r := w.rng.IntN(20); {
	case r < 6:
		w.reconcile()
	case r < 11:
		w.checkIn(h)
	case r < 15:
		if w.outcome[h] == Running {
			w.outcome[h] = Succeeded
			if w.rng.IntN(4) == 0 {
				w.outcome[h] = Failed
			}
			w.log = append(w.log, fmt.Sprintf("%s finished %s", h, w.outcome[h]))
		}
	case r < 17:
		w.targeted[h] = !w.targeted[h]
		w.log = append(w.log, fmt.Sprintf("%s targeted=%v", h, w.targeted[h]))
	case r < 18:
		w.eligible[h] = !w.eligible[h]
		w.log = append(w.log, fmt.Sprintf("%s eligible=%v", h, w.eligible[h]))
	default:
		w.paused = !w.paused
		w.log = append(w.log, fmt.Sprintf("paused=%v", w.paused))
	}
}

// working counts hosts that hold a slot or run the work.
func (w *world) working() int {
	set := map[string]bool{}
	for _, h := range w.slots {
		set[h] = true
	}
	for _, h := range w.hosts {
		if w.outcome[h] == Running {
			set[h] = true
		}
	}
	return len(set)
}

func TestDecideNeverExceedsLimits(t *testing.T) {
	for seed := range uint64(400) {
		w := newWorld(seed)
		for range 600 {
			w.step()
			if n := w.working(); n > w.maxConc {
				t.Fatalf("seed %d: %d hosts working, maxConcurrent %d\n%v", seed, n, w.maxConc, w.log)
			}
			if w.grantFailed {
				t.Fatalf("seed %d: a slot was granted with %d failures, maxFailures %d\n%v", seed, w.failed(), w.maxFail, w.log)
			}
		}
	}
}

// TestDecideCanariesGoFirst checks the canary rule on a fleet that never
// changes: no host outside the first N starts before all N are done.
func TestDecideCanariesGoFirst(t *testing.T) {
	for seed := range uint64(200) {
		w := newWorld(seed)
		w.canary = 1 + int(seed%3)
		for _, h := range w.hosts {
			w.targeted[h], w.eligible[h] = true, true
		}
		w.maxFail = len(w.hosts)
		canaries := w.hosts[:min(w.canary, len(w.hosts))]
		for range 600 {
			h := w.hosts[w.rng.IntN(len(w.hosts))]
			switch w.rng.IntN(3) {
			case 0:
				w.reconcile()
			case 1:
				w.checkIn(h)
			default:
				if w.outcome[h] == Running {
					w.outcome[h] = Succeeded
				}
			}
			for _, s := range w.started {
				if slices.Contains(canaries, s) {
					continue
				}
				for _, c := range canaries {
					if !w.outcome[c].Done() {
						t.Fatalf("seed %d: %s started before canary %s finished (%v)\n%v", seed, s, c, w.outcome[c], w.log)
					}
				}
			}
		}
	}
}

func TestDecideCanaryFailureHalts(t *testing.T) {
	targets := []Target{
		{Name: "a", Eligible: true, Result: HostResult{Outcome: Failed}},
		{Name: "b", Eligible: true},
		{Name: "c", Eligible: true},
	}
	p := Decide(Input{Targets: targets, MaxConcurrent: 3, MaxFailures: 5, Canary: 1, WindowOpen: true})
	if !p.Halted || !p.CanaryFailed || len(p.Started) != 0 {
		t.Fatalf("a failed canary must halt the rollout with nothing started: %+v", p)
	}
}

func TestDecideStartsInNameOrderAndWaitsOnOthers(t *testing.T) {
	targets := []Target{
		{Name: "a", Eligible: true, BusyWith: "older"},
		{Name: "b", Eligible: true},
		{Name: "c", Eligible: false},
		{Name: "d", Eligible: true},
	}
	p := Decide(Input{Targets: targets, MaxConcurrent: 1, WindowOpen: true})
	if !slices.Equal(p.Started, []string{"b"}) || p.WaitingOn != "older" {
		t.Fatalf("want b started and waiting on older, got %+v", p)
	}
	if p.Counts.Total != 4 || p.Counts.InProgress != 1 || p.Counts.Pending != 3 {
		t.Fatalf("counts %+v", p.Counts)
	}
}

func TestDecideFinishes(t *testing.T) {
	targets := []Target{
		{Name: "a", Eligible: true, Result: HostResult{Outcome: Succeeded}},
		{Name: "b", Eligible: true, Result: HostResult{Outcome: Skipped}},
		{Name: "c", Eligible: true, Result: HostResult{Outcome: Failed}},
	}
	p := Decide(Input{Targets: targets, Slots: []string{"a"}, MaxConcurrent: 1, MaxFailures: 1, WindowOpen: true})
	if !p.Done || p.Halted || len(p.Slots) != 0 {
		t.Fatalf("all hosts finished within the budget: want done with no slots, got %+v", p)
	}
	p = Decide(Input{Targets: targets, MaxConcurrent: 1, MaxFailures: 0, WindowOpen: true})
	if p.Done || !p.Halted {
		t.Fatalf("a failure beyond the budget must halt, got %+v", p)
	}
}

func TestDecideReleasesUnstartedSlotsWhenHaltedOrPaused(t *testing.T) {
	targets := []Target{
		{Name: "a", Eligible: true, Result: HostResult{Outcome: Failed}},
		{Name: "b", Eligible: true},
		{Name: "c", Eligible: true, Result: HostResult{Outcome: Running}},
	}
	p := Decide(Input{Targets: targets, Slots: []string{"b", "c"}, MaxConcurrent: 2, WindowOpen: true})
	if !slices.Equal(p.Slots, []string{"c"}) {
		t.Fatalf("halted: b has not started and must lose its slot, c runs and keeps it; got %v", p.Slots)
	}
	targets[0].Result.Outcome = Succeeded
	p = Decide(Input{Targets: targets, Slots: []string{"b", "c"}, MaxConcurrent: 2, Paused: true, WindowOpen: true})
	if !slices.Equal(p.Slots, []string{"c"}) || len(p.Started) != 0 {
		t.Fatalf("paused: only the running host keeps its slot; got %+v", p)
	}
}
