package controllers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/conditions"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/history"
	"github.com/redflag-io/redflag/internal/reconcile"
	"github.com/redflag-io/redflag/internal/rollout"
	"github.com/redflag-io/redflag/internal/timing"
)

// AgentUpdateReconciler runs rollouts. Each pass reads the targets' work
// records from the cache, asks rollout.Decide which hosts may hold a slot,
// and writes the slots to status with optimistic concurrency before any
// host can be told: the gateway hands work only to hosts it sees in
// status.slots, so a crash between deciding and writing starts nobody, and
// a restart recomputes everything from what is stored.
type AgentUpdateReconciler struct {
	client.Client
	Recorder *events.Recorder
	Clock    clock.PassiveClock
	// RebootBudget bounds the hosts of a namespace in rebooting rollouts'
	// work at once (0: none); see rebootingElsewhere.
	RebootBudget int
	// HTTPClient asks Prometheus gates; nil means a client with a 10s
	// timeout.
	HTTPClient *http.Client

	reboots rebootLedger
	gates   gateAnswers
}

// +kubebuilder:rbac:groups=redflag.io,resources=agentupdates,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=agentupdates/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=agents/status,verbs=get;update;patch

// Reconcile moves one rollout on.
func (r *AgentUpdateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var au redflagv1.AgentUpdate
	if err := r.Get(ctx, req.NamespacedName, &au); err != nil {
		// A deleted rollout needs no cleanup: its slots went with it, and
		// the gateway stops handing out its work when the cache drops it.
		if apierrors.IsNotFound(err) {
			r.reboots.forget(req.Namespace, req.Name)
			r.gates.forget(req.String())
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !au.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	base := au.DeepCopy()
	// Update, not a merge patch: it carries counts that are zero (a patch
	// would leave them out and kubectl would show blank cells).
	pass := reconcile.Begin(r.Client, r.Recorder, &au, reconcile.Options{Write: reconcile.Update})

	window, err := rollout.ParseWindow(au.Spec.Window)
	if err != nil {
		r.stall(&au)
		return pass.Finish(ctx, 0, reconcile.NewStalling("InvalidWindow", err))
	}
	open, closes, opens := window.Open(now)
	// A closed Prometheus gate starts nobody, as a closed window does.
	gate := ""
	if open {
		gate = r.gateClosed(ctx, req.String(), au.Spec.PrometheusGate, now)
	}
	key := rollout.WorkKey(&au)
	if au.Spec.Recurrence != nil {
		handled, wait, err := r.betweenRuns(ctx, &au, now, open && gate == "", window)
		if err != nil {
			return reconcile.Result(0, err)
		}
		if handled {
			if gate != "" {
				wait = min(wait, gateRecheck)
			}
			return pass.Finish(ctx, wait, nil)
		}
		key = rollout.RunKey(&au, au.Status.Run)
	}
	attempt := max(rollout.Attempt(key, au.Status.WorkID), 0)
	retry := au.Annotations[redflagv1.RetryAnnotation]
	retried := retry != "" && retry != au.Status.LastHandledRetry
	if retried {
		attempt++
		au.Status.LastHandledRetry = retry
	}
	workID := rollout.WorkID(key, attempt)

	in, failures, agents, err := r.gather(ctx, &au, key, workID)
	if err != nil {
		return reconcile.Result(0, err)
	}
	skips := skippedHosts(in, agents)
	in.Now = now
	in.WindowOpen = open && gate == ""
	in.Paused = au.Spec.Paused
	in.Reboots, in.RebootBudget = reboots(&au), r.RebootBudget
	in.Canary = int(au.Spec.Strategy.Canary)
	in.MaxConcurrent, in.MaxFailures, err = rollout.Limits(au.Spec.Strategy, len(in.Targets))
	if err != nil {
		r.stall(&au)
		return pass.Finish(ctx, 0, reconcile.NewStalling("InvalidStrategy", err))
	}
	plan := rollout.Decide(in)

	// A timed-out host's failure goes onto its Agent before the plan that
	// releases its slot is stored: the Agent's record is what every later
	// pass (and the gateway) reads, so a crash in between loses nothing.
	timedOut, err := r.recordTimeouts(ctx, &au, key, workID, plan.TimedOut, agents, in, now)
	if err != nil {
		// A conflict: the host reported meanwhile; decide again on what it said.
		return reconcile.Result(0, err)
	}
	// Only targets count as failed; a host that left the targets while
	// it worked is recorded and announced, not listed.
	failures = mergeFailures(failures, slices.DeleteFunc(slices.Clone(timedOut), func(f redflagv1.HostFailure) bool {
		return !slices.ContainsFunc(in.Targets, func(t rollout.Target) bool { return t.Name == f.Agent })
	}))

	au.Status.WorkID = workID
	au.Status.WaitingOn = plan.WaitingOn
	au.Status.Counts = plan.Counts
	au.Status.Slots = slotsOf(plan.Slots, base.Status.Slots, now)
	au.Status.Failures = failures
	au.Status.SkippedHosts = skips
	r.setPhase(&au, plan, open, gate, retried, pass.Record)
	if au.Spec.Recurrence != nil {
		endRun(&au.Status, plan, now)
	}
	for _, f := range newTimeouts(timedOut, failures, base.Status.Failures) {
		pass.Record(events.HostTimedOut, f.Agent+": "+f.Message, map[string]string{"agentUpdate": au.Name, "agent": f.Agent, "workID": workID})
	}
	// Not Finish: the steps below need the plan stored first. A conflict
	// means someone else wrote it (or our cache was behind): decide again
	// from the newer object rather than overwrite it.
	if err := pass.Commit(ctx); err != nil {
		return reconcile.Result(0, err)
	}
	// What this rollout now holds toward the namespace's reboot budget,
	// remembered until the cache shows it to the other rollouts' passes.
	r.reboots.set(au.Namespace, au.Name, rebootingHosts(&au, in))
	if len(plan.Started) > 0 {
		log.FromContext(ctx).Info("hosts given a slot", "hosts", plan.Started, "work", workID)
	}
	if err := r.markDesiredVersion(ctx, &au); err != nil {
		return reconcile.Result(0, err)
	}
	next := nextLook(open, closes, opens, now)
	if gate != "" {
		next = min(next, gateRecheck)
	}
	if !plan.NextTimeout.IsZero() {
		// Look again the moment the next working host would time out; a
		// host that checked in meanwhile has moved its own moment on.
		next = min(next, max(plan.NextTimeout.Sub(now), time.Second))
	}
	return reconcile.Result(next, nil)
}

// gather reads the targets and the other rollouts of the namespace.
func (r *AgentUpdateReconciler) gather(ctx context.Context, au *redflagv1.AgentUpdate, key, workID string) (rollout.Input, []redflagv1.HostFailure, map[string]*redflagv1.Agent, error) {
	var in rollout.Input
	var agents redflagv1.AgentList
	if err := r.List(ctx, &agents, client.InNamespace(au.Namespace)); err != nil {
		return in, nil, nil, fmt.Errorf("listing Agents in %s: %w", au.Namespace, err)
	}
	var others redflagv1.AgentUpdateList
	if err := r.List(ctx, &others, client.InNamespace(au.Namespace)); err != nil {
		return in, nil, nil, fmt.Errorf("listing AgentUpdates in %s: %w", au.Namespace, err)
	}
	selector := labels.Nothing()
	if au.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(au.Spec.Selector)
		if err != nil {
			return in, nil, nil, fmt.Errorf("spec.selector: %w", err)
		}
		selector = s
	}
	byName := make(map[string]*redflagv1.Agent, len(agents.Items))
	busy := busyHosts(au, others.Items)
	in.RebootingElsewhere = r.rebootingElsewhere(au, others.Items, agents.Items)
	ours := map[string]bool{}
	for _, s := range au.Status.Slots {
		ours[s.Agent] = true
	}
	var failures []redflagv1.HostFailure
	for i := range agents.Items {
		a := &agents.Items[i]
		byName[a.Name] = a
		result := rollout.OutcomeOf(key, workID, &a.Status, au.Spec.AgentVersion)
		if result.Outcome == rollout.Pending {
			result = skipUnneeded(au, a, result)
		}
		var lastSeen time.Time
		if a.Status.LastSeen != nil {
			lastSeen = a.Status.LastSeen.Time
		}
		timeout := rollout.SilenceBound(au.Spec.Strategy.Timeout(), timing.SilentAfter(agentInterval(a)))
		if !selector.Matches(labels.Set(a.Labels)) && !slices.Contains(au.Spec.Agents, a.Name) {
			// A host that left the rollout while running its work still
			// counts against maxConcurrent until it finishes (or times out).
			if result.Outcome == rollout.Running {
				in.UntargetedRunning = append(in.UntargetedRunning, rollout.Target{Name: a.Name, LastCheckIn: lastSeen, Timeout: timeout})
			}
			continue
		}
		t := rollout.Target{
			Name: a.Name, Result: result,
			Eligible:    !a.Spec.Paused && !a.Spec.Revoked && a.DeletionTimestamp.IsZero(),
			LastCheckIn: lastSeen, Timeout: timeout,
		}
		if result.Outcome == rollout.Running && rollout.RebootPending(&a.Status) {
			t.RebootSince = a.Status.CurrentWork.FinishedAt.Time
		}
		if other, ok := busy[a.Name]; ok && (!ours[a.Name] || other.first) {
			t.BusyWith = other.name
		}
		if w := a.Status.CurrentWork; w != nil && !w.Phase.Finished() && w.AgentUpdate != au.Name {
			t.BusyWith = w.AgentUpdate
		}
		if result.Outcome == rollout.Failed && result.Finished != nil {
			f := redflagv1.HostFailure{
				Agent: a.Name, Time: result.Finished.FinishedAt, Reason: result.Reason, Message: conditions.Truncate(result.Message, redflagv1.MaxMessageLength),
			}
			if result.Finished.Phase == redflagv1.WorkRolledBack {
				// The rollout says what happened; the host's cause follows.
				f.Reason = string(redflagv1.WorkRolledBack)
				f.Message = conditions.Truncate(result.Reason+": "+result.Message, redflagv1.MaxMessageLength)
			}
			failures = append(failures, f)
		}
		in.Targets = append(in.Targets, t)
	}
	slices.SortFunc(in.Targets, func(a, b rollout.Target) int { return strings.Compare(a.Name, b.Name) })
	in.SlotSince = make(map[string]time.Time, len(au.Status.Slots))
	for _, s := range au.Status.Slots {
		in.Slots = append(in.Slots, s.Agent)
		in.SlotSince[s.Agent] = s.Since.Time
	}
	return in, mergeFailures(failures, nil), byName, nil
}

// mergeFailures adds failures to the list, newest first, at most
// MaxFailureRecords.
func mergeFailures(list, more []redflagv1.HostFailure) []redflagv1.HostFailure {
	list = append(list, more...)
	slices.SortFunc(list, func(a, b redflagv1.HostFailure) int { return b.Time.Compare(a.Time.Time) })
	if len(list) > redflagv1.MaxFailureRecords {
		list = list[:redflagv1.MaxFailureRecords]
	}
	return list
}

// recordTimeouts stores on each timed-out host's Agent that the rollout
// gave up on it: its running work of this rollout (or, for a host that
// never started, the current work ID) ends Failed with reason HostTimedOut
// in currentWork and completedWork. That record is what makes the host
// count as failed on every later pass, what stops the gateway from handing
// the work out again, and what tells the host, when it returns, that the
// work was abandoned; a late report cannot undo it (the gateway never
// lets a report replace an end state). It returns one failure per host,
// to announce and (for targets) to list in status.failures.
func (r *AgentUpdateReconciler) recordTimeouts(ctx context.Context, au *redflagv1.AgentUpdate, key, workID string, hosts []string, agents map[string]*redflagv1.Agent, in rollout.Input, now time.Time) ([]redflagv1.HostFailure, error) {
	var out []redflagv1.HostFailure
	at := metav1.NewTime(now.UTC().Truncate(time.Second))
	for _, h := range hosts {
		cached, ok := agents[h]
		if !ok {
			continue
		}
		a := cached.DeepCopy()
		since, bound := silentSince(h, a, in)
		msg := fmt.Sprintf("no check-in since %s, longer than the rollout's bound of %s: its slot was released and its work abandoned",
			since.UTC().Format(time.RFC3339), bound)
		if rollout.RebootPending(&a.Status) {
			msg = fmt.Sprintf("not back from its reboot (no newer boot time and Ready) %s after its install ended: its slot was released and it counts as failed",
				bound)
		}
		id := workID
		if w := a.Status.CurrentWork; w != nil && (!w.Phase.Finished() || rollout.RebootPending(&a.Status)) && rollout.Attempt(key, w.ID) >= 0 {
			// A host that never came back from its reboot fails as a
			// silent installer does.
			id = w.ID
			w.Phase, w.Reason, w.Message, w.FinishedAt = redflagv1.WorkFailed, rollout.HostTimedOut, msg, &at
		}
		a.Status.CompletedWork = rollout.AppendWorkRecord(a.Status.CompletedWork, redflagv1.WorkRecord{
			ID: id, AgentUpdate: au.Name, Phase: redflagv1.WorkFailed, FinishedAt: at, Reason: rollout.HostTimedOut,
		})
		e := r.Recorder.Entry(events.HostTimedOut, "AgentUpdate "+au.Name+": "+msg, map[string]string{"agentUpdate": au.Name, "agent": a.Name, "workID": id})
		a.Status.History = history.Append(a.Status.History, e)
		// Update, with the resourceVersion read: a report stored meanwhile
		// makes this a conflict, and the caller decides again. Not a
		// reconcile.Pass: this is another controller's object, whose
		// observedGeneration is not this pass's to set.
		err := reconcile.WriteThenEmit(r.Recorder, a, func() error { return r.Status().Update(ctx, a) }, e)
		if err != nil {
			return nil, fmt.Errorf("recording the timeout of Agent %s/%s: %w", a.Namespace, a.Name, err)
		}
		log.FromContext(ctx).Info("host timed out", "agent", h, "work", id, "silentSince", since, "bound", bound)
		out = append(out, redflagv1.HostFailure{Agent: h, Time: at, Reason: rollout.HostTimedOut, Message: conditions.Truncate(msg, redflagv1.MaxMessageLength)})
	}
	return out, nil
}

// newTimeouts are the timeouts to announce on the rollout: those recorded
// in this pass, and those listed now but not in the stored status (a pass
// that recorded them on the Agents but lost its own write to a conflict).
func newTimeouts(recorded, listed, stored []redflagv1.HostFailure) []redflagv1.HostFailure {
	out := slices.Clone(recorded)
	for _, f := range listed {
		same := func(g redflagv1.HostFailure) bool { return g.Agent == f.Agent && g.Time.Equal(&f.Time) }
		if f.Reason == rollout.HostTimedOut && !slices.ContainsFunc(stored, same) && !slices.ContainsFunc(out, same) {
			out = append(out, f)
		}
	}
	return out
}

// silentSince is when host h's silence began as Decide judged it (its
// stored last check-in, or its slot grant if later) and its bound.
func silentSince(h string, a *redflagv1.Agent, in rollout.Input) (time.Time, time.Duration) {
	var since time.Time
	if a.Status.LastSeen != nil {
		since = a.Status.LastSeen.Time
	}
	if s, ok := in.SlotSince[h]; ok && slices.Contains(in.Slots, h) && s.After(since) {
		since = s
	}
	for _, t := range append(slices.Clone(in.Targets), in.UntargetedRunning...) {
		if t.Name == h {
			return since, t.Timeout
		}
	}
	return since, 0
}

type holder struct {
	name  string
	first bool // that rollout goes before this one
}

// busyHosts maps each host another rollout holds a slot for to that
// rollout. When two rollouts hold the same host (their controllers' views
// raced), the older one keeps it.
func busyHosts(au *redflagv1.AgentUpdate, all []redflagv1.AgentUpdate) map[string]holder {
	out := map[string]holder{}
	for i := range all {
		o := &all[i]
		if o.Name == au.Name {
			continue
		}
		first := o.CreationTimestamp.Before(&au.CreationTimestamp) ||
			(o.CreationTimestamp.Equal(&au.CreationTimestamp) && o.Name < au.Name)
		for _, s := range o.Status.Slots {
			if h, ok := out[s.Agent]; !ok || (first && !h.first) {
				out[s.Agent] = holder{name: o.Name, first: first}
			}
		}
	}
	return out
}

// slotsOf keeps the time each kept slot was taken and stamps new ones.
func slotsOf(names []string, before []redflagv1.Slot, now time.Time) []redflagv1.Slot {
	out := make([]redflagv1.Slot, 0, len(names))
	for _, n := range names {
		since := metav1.NewTime(now.UTC().Truncate(time.Second))
		if i := slices.IndexFunc(before, func(s redflagv1.Slot) bool { return s.Agent == n }); i >= 0 {
			since = before[i].Since
		}
		out = append(out, redflagv1.Slot{Agent: n, Since: since})
	}
	return out
}

// markDesiredVersion records on each Agent holding a slot the version an
// agentVersion rollout wants it to run (spec.desiredVersion), so `kubectl
// get agent -o yaml` shows it next to the UpToDate condition. Every slot
// holder, not only the hosts started in this pass, and only where the
// Agent does not say so yet: a patch that failed is made on the next pass
// instead of leaving the host without it for good.
func (r *AgentUpdateReconciler) markDesiredVersion(ctx context.Context, au *redflagv1.AgentUpdate) error {
	if au.Spec.AgentVersion == "" {
		return nil
	}
	for _, slot := range au.Status.Slots {
		var a redflagv1.Agent
		if err := r.Get(ctx, client.ObjectKey{Namespace: au.Namespace, Name: slot.Agent}, &a); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("reading Agent %s: %w", slot.Agent, err)
		}
		if a.Spec.DesiredVersion == au.Spec.AgentVersion {
			continue
		}
		patch := []byte(fmt.Sprintf(`{"spec":{"desiredVersion":%q}}`, au.Spec.AgentVersion))
		if err := r.Patch(ctx, &a, client.RawPatch("application/merge-patch+json", patch)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("setting desiredVersion on Agent %s: %w", slot.Agent, err)
		}
	}
	return nil
}

// nextLook is when to look again without an event: at the window's next
// edge (to start or stop starting hosts), and every few minutes anyway as
// a safety net for a missed watch event.
func nextLook(open bool, closes, opens, now time.Time) time.Duration {
	next := 5 * time.Minute
	edge := opens
	if open {
		edge = closes
	}
	if !edge.IsZero() {
		next = min(next, max(edge.Sub(now), time.Second))
	}
	return next
}
