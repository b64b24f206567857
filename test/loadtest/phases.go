package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/timing"
	"github.com/redflag-io/redflag/test/testenv"
)

// The fleet's namespace and registration token: every simulated Agent
// carries the token's name as its redflag.io/registration-token label,
// which is how the phases' ScanSchedule and AgentUpdate select exactly the
// fleet.
const (
	fleetNamespace = "load"
	fleetToken     = "fleet"
)

// TimeToWork is what a phase that creates an object measured: how long
// after the create the simulated agents' check-in answers carried what the
// object asks for.
type TimeToWork struct {
	// Want is how many agents should get it; Got how many did before the
	// phase ended.
	Want, Got int
	// First, Median and Last are from the create to the answer that first
	// carried it, over the agents that got it.
	First, Median, Last time.Duration
	// Timeout is how long the phase waited at most after the create.
	Timeout time.Duration
	// Cycle is how long the generator took to visit every agent once
	// (fleet size over the check-in rate): an agent learns of new work at
	// its next check-in, so the times include up to one Cycle, where a
	// real agent in heartbeat mode would add up to one heartbeat interval.
	Cycle time.Duration
	// CheckIns and Errors count the phase's check-ins; Writes its
	// API-server writes (the controllers' and the gateway's).
	CheckIns, Errors int64
	FirstError       string
	Writes           float64
}

// heartbeatFor is how far ahead spec.heartbeat.until is set: beyond the
// end of any run.
const heartbeatFor = 24 * time.Hour

// inHeartbeat picks the share of the fleet to put in heartbeat mode,
// spread evenly over it: the generator visits agents in fleet order, and
// agents enrolled together would also fall due for liveness writes
// together, so a block of them would not look like a real fleet's mix.
func inHeartbeat(fleet []*simAgent, share float64) []*simAgent {
	n := min(len(fleet), max(0, int(math.Round(share*float64(len(fleet))))))
	out := make([]*simAgent, n)
	for i := range out {
		out[i] = fleet[i*len(fleet)/n]
	}
	return out
}

// startHeartbeat sets spec.heartbeat.until ahead on every agent given, as
// a user does, and waits until the Agent controller has observed each
// change: its status writes belong to the change, not to the steady
// phase that follows.
func startHeartbeat(ctx context.Context, c client.Client, agents []*simAgent, par int) error {
	return patchSpecs(ctx, c, agents, par, "spec.heartbeat", map[string]any{
		"heartbeat": redflagv1.HeartbeatSpec{Until: metav1.NewTime(time.Now().Add(heartbeatFor))},
	}, func(a *redflagv1.Agent) bool { return a.Spec.Heartbeat != nil })
}

// setInterval sets spec.checkInInterval on every agent given, as a user
// does for a fleet, and waits until the Agent controller has observed it.
func setInterval(ctx context.Context, c client.Client, agents []*simAgent, par int, interval time.Duration) error {
	return patchSpecs(ctx, c, agents, par, "spec.checkInInterval", map[string]any{
		"checkInInterval": metav1.Duration{Duration: interval},
	}, func(a *redflagv1.Agent) bool {
		return a.Spec.CheckInInterval != nil && a.Spec.CheckInInterval.Duration == interval
	})
}

// patchSpecs merge-patches spec on every agent given, par at a time, and
// waits until the Agent controller has observed each change: applied
// tells a patched Agent, what names the change in errors.
func patchSpecs(ctx context.Context, c client.Client, agents []*simAgent, par int, what string, spec map[string]any, applied func(*redflagv1.Agent) bool) error {
	patch, err := json.Marshal(map[string]any{"spec": spec})
	if err != nil {
		return fmt.Errorf("encoding the %s patch: %w", what, err)
	}
	work := make(chan *simAgent)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range max(par, 1) {
		wg.Go(func() {
			for a := range work {
				ns, name, _ := strings.Cut(a.id.Agent, "/")
				obj := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
				if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("setting %s on %s: %w", what, a.id.Agent, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, a := range agents {
		work <- a
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	// The controller works through the changes at its own pace: allow
	// 10 ms per Agent beyond two minutes.
	return waitObserved(ctx, c, agents, 2*time.Minute+time.Duration(len(agents))*10*time.Millisecond, what, applied)
}

// waitObserved waits until every agent given is applied and has
// status.observedGeneration at its generation.
func waitObserved(ctx context.Context, c client.Client, agents []*simAgent, timeout time.Duration, what string, applied func(*redflagv1.Agent) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		var list redflagv1.AgentList
		if err := c.List(ctx, &list, client.InNamespace(fleetNamespace)); err != nil {
			return fmt.Errorf("listing the fleet's Agents: %w", err)
		}
		observed := map[string]bool{}
		for i := range list.Items {
			a := &list.Items[i]
			observed[a.Namespace+"/"+a.Name] = applied(a) && a.Status.ObservedGeneration == a.Generation
		}
		behind := 0
		for _, a := range agents {
			if !observed[a.id.Agent] {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s the Agent controller had not observed the %s change on %d of %d Agents", timeout, what, behind, len(agents))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// checkHeartbeat drives check-ins over the whole fleet, opening every
// answer, until each agent in heartbeat mode has been told to come back
// after the heartbeat interval and every other agent has answered, or
// timeout passes. It records, per group, the next check-in each agent's
// last answer asked for.
func checkHeartbeat(ctx context.Context, fleet, heartbeat []*simAgent, wire *wireDialer, o Options, timeout time.Duration, rep *Report) {
	n := len(heartbeat)
	inHeartbeat := make(map[*simAgent]bool, n)
	for _, a := range heartbeat {
		inHeartbeat[a] = true
	}
	var mu sync.Mutex
	last := make(map[*simAgent]time.Duration, len(fleet))
	short := map[*simAgent]bool{}
	done := make(chan struct{})
	finished := false
	observe := func(a *simAgent, doc *protocol.WorkDocument) {
		told := doc.NextCheckIn.Duration
		isShort := told == timing.HeartbeatInterval && doc.HeartbeatUntil != nil && doc.HeartbeatUntil.After(time.Now())
		mu.Lock()
		defer mu.Unlock()
		last[a] = told
		if inHeartbeat[a] {
			if isShort {
				short[a] = true
			} else {
				delete(short, a)
			}
		}
		if !finished && len(short) == n && len(last) == len(fleet) {
			finished = true
			close(done)
		}
	}
	drive(ctx, fleet, wire, o, timeout, observe, done)
	mu.Lock()
	defer mu.Unlock()
	rep.HeartbeatAgents = n
	rep.HeartbeatTold = len(short)
	rep.HeartbeatNext, rep.OthersNext = map[time.Duration]int{}, map[time.Duration]int{}
	for a, told := range last {
		if inHeartbeat[a] {
			rep.HeartbeatNext[told]++
		} else {
			rep.OthersNext[told]++
		}
	}
}

// drive runs check-ins with observe until done is closed, ctx ends or
// timeout passes, and returns what the check-ins measured.
func drive(ctx context.Context, fleet []*simAgent, wire *wireDialer, o Options, timeout time.Duration, observe func(*simAgent, *protocol.WorkDocument), done <-chan struct{}) *Report {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o.Duration = timeout
	var rep Report
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		steady(ctx, fleet, wire, o, &rep, observe)
	}()
	select {
	case <-done:
		cancel()
	case <-finished:
	}
	<-finished
	return &rep
}

// phaseLead is how long the fleet checks in before a phase creates its
// object, so the measured time starts with connections open, as a real
// fleet's are.
const phaseLead = time.Second

// timeToWork drives the fleet's check-ins, creates obj while they run, and
// measures how long until want agents have had an answer for which has is
// true (or until timeout passes after the create).
func timeToWork(ctx context.Context, env *testenv.Env, fleet []*simAgent, wire *wireDialer, o Options, timeout time.Duration,
	obj client.Object, want int, has func(*protocol.WorkDocument) bool) (*TimeToWork, error) {
	before, err := scrapeRequests(ctx, env.Config)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var created time.Time
	got := make(map[*simAgent]time.Duration, want)
	done := make(chan struct{})
	if want <= 0 {
		close(done)
	}
	observe := func(a *simAgent, doc *protocol.WorkDocument) {
		if !has(doc) {
			return
		}
		at := time.Now()
		mu.Lock()
		defer mu.Unlock()
		// Nothing can be due before the create; an answer that says so
		// anyway is not counted as fast.
		if created.IsZero() || len(got) >= want {
			return
		}
		if _, ok := got[a]; ok {
			return
		}
		got[a] = at.Sub(created)
		if len(got) == want {
			close(done)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	drv := make(chan *Report, 1)
	go func() { drv <- drive(ctx, fleet, wire, o, phaseLead+timeout, observe, done) }()
	select {
	case <-ctx.Done():
	case <-time.After(phaseLead):
	}
	mu.Lock()
	created = time.Now()
	mu.Unlock()
	if err := env.Client.Create(ctx, obj); err != nil {
		cancel()
		<-drv
		return nil, fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
	}
	r := <-drv
	after, err := scrapeRequests(ctx, env.Config)
	if err != nil {
		return nil, err
	}
	res := &TimeToWork{
		Want: max(want, 0), Got: len(got), Timeout: timeout,
		CheckIns: r.CheckIns, Errors: r.Errors, FirstError: r.FirstError,
		Writes: after.minus(before).writes(),
	}
	if r.CheckInsPerS > 0 {
		res.Cycle = time.Duration(float64(len(fleet)) / r.CheckInsPerS * float64(time.Second))
	}
	times := make([]time.Duration, 0, len(got))
	for _, d := range got {
		times = append(times, d)
	}
	slices.Sort(times)
	if len(times) > 0 {
		res.First, res.Median, res.Last = times[0], times[len(times)/2], times[len(times)-1]
	}
	return res, nil
}

// scanSchedule asks for an updates scan on every agent of the fleet, due at
// once: no splay, never scanned before.
func scanSchedule() *redflagv1.ScanSchedule {
	return &redflagv1.ScanSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: "load-scans"},
		Spec: redflagv1.ScanScheduleSpec{
			Selector:   &metav1.LabelSelector{MatchLabels: map[string]string{redflagv1.LabelToken: fleetToken}},
			Subsystems: redflagv1.ScanSubsystems{Updates: &redflagv1.UpdatesSchedule{SubsystemSchedule: redflagv1.SubsystemSchedule{Interval: metav1.Duration{Duration: 6 * time.Hour}}}},
		},
	}
}

// hasUpdatesScan is true for an answer that asks for an updates scan.
func hasUpdatesScan(doc *protocol.WorkDocument) bool {
	return slices.ContainsFunc(doc.Scans, func(s protocol.ScanRequest) bool { return s.Subsystem == "updates" })
}

// agentUpdate is a package rollout to every agent of the fleet, as many
// at once as a rollout allows, with no window: the simulated agents never
// report, so the slots stay taken and the work stays in their answers.
func agentUpdate() *redflagv1.AgentUpdate {
	all := intstr.FromString("100%")
	return &redflagv1.AgentUpdate{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: "load-rollout"},
		Spec: redflagv1.AgentUpdateSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{redflagv1.LabelToken: fleetToken}},
			Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeSecurity},
			Strategy: redflagv1.RolloutStrategy{MaxConcurrent: &all, MaxFailures: &all},
			Reboot:   redflagv1.RebootNever,
		},
	}
}

// hasRolloutWork is true for an answer that carries the rollout's packages
// work.
func hasRolloutWork(name string) func(*protocol.WorkDocument) bool {
	return func(doc *protocol.WorkDocument) bool {
		return doc.Work != nil && doc.Work.AgentUpdate == name && doc.Work.Packages != nil
	}
}
