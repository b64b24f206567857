package rollout

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
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
	// held hosts have every selected update held on their Agent: the
	// controller presents a pending one as Skipped (PackagesHeld).
	held      map[string]bool
	grantHeld string // a held host was granted a slot
	// Reboot budget: both this rollout and other (another rollout of the
	// namespace, its own world) reboot; budget bounds them together.
	budget int
	other  *world
	log    []string

	// Silence: a clock, each host's last check-in, whether it is alive
	// (checks in and reports) and when each slot was granted.
	now       time.Time
	timeout   time.Duration
	alive     map[string]bool
	lastSeen  map[string]time.Time
	slotSince map[string]time.Time
	timedOut  map[string]bool // hosts the controller stored as HostTimedOut
	// keptSilent is set when a plan kept or granted a slot to a host
	// silent past its timeout, or a timed-out host held a slot.
	keptSilent string
	// lastWritten: the last reconcile stored its plan.
	lastWritten bool
}

func newWorld(seed uint64) *world {
	rng := rand.New(rand.NewPCG(seed, seed*7919+1))
	w := &world{
		rng: rng, targeted: map[string]bool{}, eligible: map[string]bool{}, outcome: map[string]Outcome{},
		now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), timeout: time.Duration(5+rng.IntN(20)) * time.Second,
		alive: map[string]bool{}, held: map[string]bool{}, lastSeen: map[string]time.Time{}, slotSince: map[string]time.Time{}, timedOut: map[string]bool{},
	}
	n := 3 + rng.IntN(12)
	for i := range n {
		h := fmt.Sprintf("host-%02d", i)
		w.hosts = append(w.hosts, h)
		w.targeted[h] = rng.IntN(5) > 0
		w.eligible[h] = rng.IntN(8) > 0
		w.alive[h] = true
	}
	w.maxConc = 1 + rng.IntN(4)
	w.maxFail = rng.IntN(3)
	w.canary = rng.IntN(3)
	return w
}

func (w *world) input() Input {
	in := Input{
		Slots: slices.Clone(w.slots), MaxConcurrent: w.maxConc, MaxFailures: w.maxFail, Canary: w.canary, Paused: w.paused, WindowOpen: true,
		Now: w.now, SlotSince: map[string]time.Time{},
	}
	for _, h := range w.slots {
		in.SlotSince[h] = w.slotSince[h]
	}
	if w.other != nil {
		in.Reboots, in.RebootBudget, in.RebootingElsewhere = true, w.budget, w.other.working()
	}
	for _, h := range w.hosts {
		t := Target{Name: h, Eligible: w.eligible[h], Result: HostResult{Outcome: w.outcome[h]}, LastCheckIn: w.lastSeen[h], Timeout: w.timeout}
		if w.held[h] && w.outcome[h] == Pending {
			t.Result = HostResult{Outcome: Skipped, Reason: PackagesHeld}
		}
		if w.targeted[h] {
			in.Targets = append(in.Targets, t)
		} else if w.outcome[h] == Running {
			in.UntargetedRunning = append(in.UntargetedRunning, t)
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
	w.lastWritten = false
	if w.rng.IntN(6) == 0 {
		w.log = append(w.log, "controller restarted before writing")
		return
	}
	// Timed-out hosts are stored as failed on their Agents first, then the
	// plan; a crash in between leaves the failures, which the next pass
	// reads.
	for _, h := range plan.TimedOut {
		if w.outcome[h] == Running || w.outcome[h] == Pending {
			w.outcome[h] = Failed
			w.timedOut[h] = true
			w.log = append(w.log, h+" timed out")
		}
	}
	if w.rng.IntN(6) == 0 {
		w.log = append(w.log, "controller restarted between the Agents and the plan")
		return
	}
	if len(plan.Started) > 0 && w.failed() > w.maxFail {
		w.grantFailed = true
	}
	for _, h := range plan.Started {
		if w.held[h] && w.grantHeld == "" {
			w.grantHeld = h
		}
	}
	for _, h := range plan.Slots {
		since := w.now
		if slices.Contains(w.slots, h) {
			since = w.slotSince[h]
		}
		d := since
		if w.lastSeen[h].After(d) {
			d = w.lastSeen[h]
		}
		if !w.now.Before(d.Add(w.timeout)) && w.keptSilent == "" {
			w.keptSilent = fmt.Sprintf("%s keeps its slot, silent since %s (now %s, timeout %s)", h, d.Format(time.TimeOnly), w.now.Format(time.TimeOnly), w.timeout)
		}
		w.slotSince[h] = since
	}
	w.slotGrants += len(plan.Started)
	w.slots = plan.Slots
	w.lastWritten = true
	w.log = append(w.log, fmt.Sprintf("reconcile: slots %v started %v timed out %v", plan.Slots, plan.Started, plan.TimedOut))
}

// checkIn is a host asking the gateway for work: it starts only when it
// holds a stored slot, is eligible and has not run the work.
func (w *world) checkIn(h string) {
	if !w.alive[h] {
		return
	}
	w.lastSeen[h] = w.now
	if slices.Contains(w.slots, h) && w.eligible[h] && w.outcome[h] == Pending {
		w.outcome[h] = Running
		w.started = append(w.started, h)
		w.log = append(w.log, h+" started")
	}
}

func (w *world) step() {
	h := w.hosts[w.rng.IntN(len(w.hosts))]
	w.now = w.now.Add(time.Duration(w.rng.IntN(3)) * time.Second)
	switch r := w.rng.IntN(22); {
	case r >= 20:
		// A host dies (stops checking in and reporting) or comes back.
		w.alive[h] = !w.alive[h]
		w.log = append(w.log, fmt.Sprintf("%s alive=%v", h, w.alive[h]))
	case r < 6:
		w.reconcile()
	case r < 11:
		w.checkIn(h)
	case r < 15:
		// Only a live host reports; a late report of a host already stored
		// as failed (timed out) is refused, as the gateway does.
		if w.outcome[h] == Running && w.alive[h] {
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
	case r < 19:
		// A hold is set or lifted on the Agent.
		w.held[h] = !w.held[h]
		w.log = append(w.log, fmt.Sprintf("%s held=%v", h, w.held[h]))
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
	timeouts := 0
	defer func() {
		// The mix must exercise timeouts, or the checks above prove little.
		if !t.Failed() && timeouts < 100 {
			t.Errorf("only %d hosts timed out over all seeds", timeouts)
		}
	}()
	for seed := range uint64(400) {
		w := newWorld(seed)
		defer func() { timeouts += len(w.timedOut) }()
		for range 600 {
			w.step()
			if n := w.working(); n > w.maxConc {
				t.Fatalf("seed %d: %d hosts working, maxConcurrent %d\n%v", seed, n, w.maxConc, w.log)
			}
			if w.grantFailed {
				t.Fatalf("seed %d: a slot was granted with %d failures, maxFailures %d\n%v", seed, w.failed(), w.maxFail, w.log)
			}
			if w.keptSilent != "" {
				t.Fatalf("seed %d: %s\n%v", seed, w.keptSilent, w.log)
			}
			if w.grantHeld != "" {
				t.Fatalf("seed %d: %s was granted a slot while held\n%v", seed, w.grantHeld, w.log)
			}
			for _, h := range w.slots {
				// A crash between storing the failure and the plan may
				// leave the slot stored for a while; the gateway gives
				// such a host nothing (its record says failed), and the
				// next stored plan must drop it.
				if w.timedOut[h] && w.lastWritten {
					t.Fatalf("seed %d: %s timed out and holds a slot\n%v", seed, h, w.log)
				}
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

func TestDecideTimesOutSilentHolders(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const timeout = 30 * time.Minute
	targets := func() []Target {
		return []Target{
			// Ran the work, last seen 31 minutes ago: silent too long.
			{Name: "a", Eligible: true, Result: HostResult{Outcome: Running}, LastCheckIn: now.Add(-31 * time.Minute), Timeout: timeout},
			// Took its slot 40 minutes ago and was seen 10 minutes ago: alive.
			{Name: "b", Eligible: true, LastCheckIn: now.Add(-10 * time.Minute), Timeout: timeout},
			{Name: "c", Eligible: true, Timeout: timeout},
		}
	}
	in := Input{
		Targets: targets(), Slots: []string{"a", "b"}, MaxConcurrent: 2, MaxFailures: 1, WindowOpen: true, Now: now,
		SlotSince: map[string]time.Time{"a": now.Add(-40 * time.Minute), "b": now.Add(-40 * time.Minute)},
	}
	p := Decide(in)
	if !slices.Equal(p.TimedOut, []string{"a"}) || !slices.Equal(p.Slots, []string{"b", "c"}) || !slices.Equal(p.Started, []string{"c"}) {
		t.Fatalf("a must time out and lose its slot to c, b keeps its own: %+v", p)
	}
	if p.Counts.Failed != 1 || p.Counts.InProgress != 2 || p.Halted {
		t.Fatalf("counts %+v halted %v: want a failed within the budget, b and c working", p.Counts, p.Halted)
	}
	if want := now.Add(-10 * time.Minute).Add(timeout); !p.NextTimeout.Equal(want) {
		t.Fatalf("next timeout %s, want b's at %s", p.NextTimeout, want)
	}
	if in.Targets[0].Result.Outcome != Running {
		t.Fatal("Decide changed its caller's targets")
	}

	// The timeout is a failure like any other: with no budget it halts.
	in.Targets, in.MaxFailures = targets(), 0
	if p := Decide(in); !p.Halted || len(p.Started) != 0 || slices.Contains(p.Slots, "a") {
		t.Fatalf("a timed-out host beyond the budget must halt the rollout: %+v", p)
	}

	// A host that took its slot and never checked in since is judged from
	// the grant: silent 29 minutes is not yet too long, 30 is.
	in = Input{
		Targets: []Target{{Name: "c", Eligible: true, LastCheckIn: now.Add(-5 * time.Hour), Timeout: timeout}},
		Slots:   []string{"c"}, SlotSince: map[string]time.Time{"c": now.Add(-29 * time.Minute)},
		MaxConcurrent: 1, MaxFailures: 1, WindowOpen: true, Now: now,
	}
	if p := Decide(in); len(p.TimedOut) != 0 || !p.NextTimeout.Equal(now.Add(time.Minute)) {
		t.Fatalf("c has been silent 29 minutes since its grant: %+v", p)
	}
	in.Now = now.Add(time.Minute)
	if p := Decide(in); !slices.Equal(p.TimedOut, []string{"c"}) || p.Counts.Failed != 1 || !p.Done {
		t.Fatalf("c has been silent 30 minutes since its grant: %+v", p)
	}

	// A host that left the targets while running stops counting against
	// maxConcurrent once it is silent too long, without counting as failed.
	in = Input{
		Targets:           []Target{{Name: "d", Eligible: true, Timeout: timeout}},
		UntargetedRunning: []Target{{Name: "x", LastCheckIn: now.Add(-time.Hour), Timeout: timeout}},
		MaxConcurrent:     1, WindowOpen: true, Now: now,
	}
	if p := Decide(in); !slices.Equal(p.TimedOut, []string{"x"}) || !slices.Equal(p.Started, []string{"d"}) || p.Counts.Failed != 0 {
		t.Fatalf("x must time out and free its place for d: %+v", p)
	}
}

func TestSilenceBoundIsNeverBelowSilentAfter(t *testing.T) {
	if got := SilenceBound(10*time.Second, 15*time.Second); got != 15*time.Second {
		t.Errorf("10s with a 5s interval: %s, want three intervals (15s)", got)
	}
	if got := SilenceBound(30*time.Minute, 3*time.Minute); got != 30*time.Minute {
		t.Errorf("30m with a 1m interval: %s, want 30m", got)
	}
}

// TestRebootBudgetHoldsAcrossRollouts plays two rebooting rollouts of one
// namespace against each other (each with its own hosts, controller
// crashes, pauses, timeouts) and checks after every step that the hosts
// holding a slot or running work in both together never exceed the
// namespace's reboot budget. A host that reboots after its install stays
// Running until it is back, so the model's Running covers the reboot.
func TestRebootBudgetHoldsAcrossRollouts(t *testing.T) {
	full := 0
	for seed := range uint64(300) {
		a, b := newWorld(seed), newWorld(seed+100000)
		a.budget = 1 + a.rng.IntN(3)
		b.budget, a.other, b.other = a.budget, b, a
		for range 800 {
			w := a
			if a.rng.IntN(2) == 0 {
				w = b
			}
			w.step()
			if n := a.working() + b.working(); n > a.budget {
				t.Fatalf("seed %d: %d hosts may be rebooting at once, budget %d\nA: %v\nB: %v", seed, n, a.budget, a.log, b.log)
			}
			if a.working()+b.working() == a.budget {
				full++
			}
		}
	}
	if full < 1000 {
		t.Errorf("the budget was full in only %d steps: the mix does not test it", full)
	}
}

func TestDecideWaitsForTheRebootBudget(t *testing.T) {
	in := Input{
		Targets:       []Target{{Name: "a", Eligible: true}, {Name: "b", Eligible: true}},
		MaxConcurrent: 2, WindowOpen: true, Reboots: true, RebootBudget: 2, RebootingElsewhere: 1,
	}
	p := Decide(in)
	if !slices.Equal(p.Started, []string{"a"}) || p.RebootBudgetFull {
		t.Errorf("budget 2 with 1 rebooting elsewhere: started %v full %v, want [a] and not full", p.Started, p.RebootBudgetFull)
	}
	in.RebootingElsewhere = 2
	if p := Decide(in); len(p.Started) != 0 || !p.RebootBudgetFull {
		t.Errorf("budget spent elsewhere: started %v full %v, want none and full", p.Started, p.RebootBudgetFull)
	}
	in.Reboots = false
	if p := Decide(in); len(p.Started) != 2 {
		t.Errorf("a rollout that does not reboot: started %v, want both", p.Started)
	}
}

// TestDecideTimesOutAHostThatDoesNotComeBack: a host that went to reboot
// longer than its timeout ago fails even though it keeps checking in (its
// reboot command failed, say); one within the bound keeps its slot.
func TestDecideTimesOutAHostThatDoesNotComeBack(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	running := HostResult{Outcome: Running}
	in := Input{
		Targets: []Target{
			{Name: "a", Eligible: true, Result: running, LastCheckIn: now, Timeout: 10 * time.Minute, RebootSince: now.Add(-11 * time.Minute)},
			{Name: "b", Eligible: true, Result: running, LastCheckIn: now, Timeout: 10 * time.Minute, RebootSince: now.Add(-time.Minute)},
		},
		Slots: []string{"a", "b"}, MaxConcurrent: 2, MaxFailures: 5, WindowOpen: true, Now: now,
	}
	p := Decide(in)
	if !slices.Equal(p.TimedOut, []string{"a"}) || !slices.Equal(p.Slots, []string{"b"}) || p.Counts.Failed != 1 {
		t.Errorf("timed out %v slots %v failed %d: want a timed out, b kept", p.TimedOut, p.Slots, p.Counts.Failed)
	}
}
