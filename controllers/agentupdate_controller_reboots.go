package controllers

import (
	"sync"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/rollout"
)

// reboots reports whether a rollout's hosts may reboot after their work.
func reboots(au *redflagv1.AgentUpdate) bool {
	return au.Spec.Packages != nil && !au.Spec.DryRun && au.Spec.Reboot != "" && au.Spec.Reboot != redflagv1.RebootNever
}

// rebootingHosts are the hosts a rebooting rollout holds as of the plan
// just stored: its slots and the targets whose work (or reboot) is not
// over. Empty for a rollout that does not reboot.
func rebootingHosts(au *redflagv1.AgentUpdate, in rollout.Input) map[string]bool {
	if !reboots(au) {
		return nil
	}
	out := map[string]bool{}
	for _, s := range au.Status.Slots {
		out[s.Agent] = true
	}
	for _, t := range append(in.Targets, in.UntargetedRunning...) {
		if t.Result.Outcome == rollout.Running {
			out[t.Name] = true
		}
	}
	return out
}

// rebootingElsewhere counts the hosts the namespace's other rebooting
// rollouts hold: their stored slots, hosts running their work or not yet
// back from its reboot (read from the Agents), and what this controller
// itself stored for them lately (the ledger), which the cache may not
// show yet. Counting the union errs toward waiting, never toward one
// reboot too many.
func (r *AgentUpdateReconciler) rebootingElsewhere(au *redflagv1.AgentUpdate, others []redflagv1.AgentUpdate, agents []redflagv1.Agent) int {
	if r.RebootBudget <= 0 {
		return 0
	}
	rebooting := map[string]bool{}
	held := map[string]bool{}
	for i := range others {
		o := &others[i]
		if o.Name == au.Name || !reboots(o) {
			continue
		}
		rebooting[o.Name] = true
		for _, s := range o.Status.Slots {
			held[s.Agent] = true
		}
	}
	for i := range agents {
		a := &agents[i]
		w := a.Status.CurrentWork
		if w != nil && rebooting[w.AgentUpdate] && (!w.Phase.Finished() || rollout.RebootPending(&a.Status)) {
			held[a.Name] = true
		}
	}
	for name, hosts := range r.reboots.others(au.Namespace, au.Name) {
		if !rebooting[name] {
			continue
		}
		for h := range hosts {
			held[h] = true
		}
	}
	return len(held)
}

// rebootLedger remembers, per namespace and rollout, the hosts each
// rebooting rollout held after its last stored pass. Passes of different
// rollouts read each other through the informer cache, which may lag
// behind a write just made; the ledger closes that gap within one
// leader's term (a new term starts from a synced cache).
type rebootLedger struct {
	mu   sync.Mutex
	byNS map[string]map[string]map[string]bool
}

func (l *rebootLedger) set(ns, name string, hosts map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(hosts) == 0 {
		delete(l.byNS[ns], name)
		return
	}
	if l.byNS == nil {
		l.byNS = map[string]map[string]map[string]bool{}
	}
	if l.byNS[ns] == nil {
		l.byNS[ns] = map[string]map[string]bool{}
	}
	l.byNS[ns][name] = hosts
}

func (l *rebootLedger) forget(ns, name string) { l.set(ns, name, nil) }

// others returns the ledger of ns without name's entry (shared maps: read only).
func (l *rebootLedger) others(ns, name string) map[string]map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]map[string]bool, len(l.byNS[ns]))
	for n, hosts := range l.byNS[ns] {
		if n != name {
			out[n] = hosts
		}
	}
	return out
}
