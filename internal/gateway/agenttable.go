package gateway

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
	toolscache "k8s.io/client-go/tools/cache"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Everything the gateway keeps of one agent lives in one agentState, held
// in one table (agentTable) by namespace/name, so deleting an Agent forgets
// all of it in one call. (It was ten maps, and a delete forgot four: the
// liveness, applied report keys and warning limiters of every Agent ever
// seen stayed.) A handler finds the state through its agentRecord (rec.st);
// nothing but the informer's add creates one, so a request racing a delete
// writes into a detached state that is collected with it, and never brings
// the agent back.
//
// What is deliberately not here: the nonce cache (nonces.go) outlives a
// delete, because an Agent deleted and enrolled again under the same name
// with the same key (the same host registering anew) would otherwise
// accept, within the clock-skew window, a replay of a request captured
// before the delete; its entries expire after twice the skew, so it is
// bounded by time, not by how many Agents ever existed. Limits kept per
// client address or per token (ipLimits, registerLimits, bodies, refusals,
// seatLocks) are not the agent's and stay where they are.
//
// Every replica holds a state for every Agent (requests for agents another
// replica owns are forwarded, so their mutable parts stay empty); what an
// agent's owner remembered is not cleared when ownership moves, since it
// is bounded by the fleet and only ever a cache of what the Agent stores.

// agentState is one agent's record and the gateway's memory of it. rec is
// replaced whole on every change (records are immutable); the rest is
// guarded by mu.
type agentState struct {
	rec *agentRecord // guarded by the table's lock

	mu sync.Mutex
	// gone says the Agent was deleted: the liveness writer skips it.
	gone bool
	// Liveness (liveness.go): the last check-in, what this replica last
	// wrote, whether a write is queued, and the agent version reported
	// when it differs from the stored one.
	lastSeen, persisted time.Time
	queued              bool
	version             string
	// applied holds the last appliedPerAgent idempotency keys (report.go).
	applied []string
	// warned is when each Warning reason was last emitted (warnings.go);
	// at most one entry per reason.
	warned map[string]time.Time
	// limiter is the per-agent request rate (auth.go), made on first use.
	limiter *rate.Limiter
	doc     cachedDoc                            // doccache.go
	plan    cachedPlan                           // dispatch.go
	runs    map[string]redflagv1.SubsystemStatus // scanledger.go, by subsystem
	trail   checkInTrail                         // clones.go
	// rebinding is the machine ID whose rebind is being recorded now
	// (rebind.go), "" when none.
	rebinding string
}

// agentTable indexes agentStates by namespace/name, fed by the Agent
// informer.
type agentTable struct {
	mu     sync.RWMutex
	states map[string]*agentState
	// peak is the most entries the map has held since it was last
	// rebuilt: Go maps do not shrink, so after a mass delete the table is
	// rebuilt once it holds less than a quarter of that.
	peak int
}

func newAgentTable() *agentTable { return &agentTable{states: map[string]*agentState{}} }

// get is the agent's current record, nil when it is not enrolled.
func (t *agentTable) get(key string) *agentRecord {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if s := t.states[key]; s != nil {
		return s.rec
	}
	return nil
}

// put stores the informer's copy, unless the gateway has already stored a
// newer one it wrote itself (see wrote). An Agent of the same name but
// another UID (deleted and created again while the watch was down) starts
// with a fresh state.
func (t *agentTable) put(a *redflagv1.Agent) {
	rec := recordOf(a)
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.states[rec.key]
	switch {
	case cur == nil || (cur.rec.uid != rec.uid && cur.rec.uid != "" && rec.uid != ""):
		if cur != nil {
			cur.forget()
		}
		s := &agentState{}
		rec.st, s.rec = s, rec
		t.states[rec.key] = s
		t.peak = max(t.peak, len(t.states))
	case !olderVersion(rec.resourceVersion, cur.rec.resourceVersion):
		rec.st, cur.rec = cur, rec
	}
}

// wrote stores an Agent this gateway has just written, so the agent's next
// request is judged against it rather than against an informer a moment
// behind: a burst of reports (an outbox flushed after an outage, a scan
// repeated at once) would otherwise find the old status, conflict or write
// the same change again. It only replaces an older record of the same
// Agent; an Agent the informer has already removed stays removed.
func (t *agentTable) wrote(a *redflagv1.Agent) {
	rec := recordOf(a)
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur := t.states[rec.key]; cur != nil && cur.rec.uid == rec.uid && olderVersion(cur.rec.resourceVersion, rec.resourceVersion) {
		rec.st, cur.rec = cur, rec
	}
}

// remove forgets everything kept of the agent.
func (t *agentTable) remove(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.states[key]
	if s == nil {
		return
	}
	delete(t.states, key)
	s.forget()
	if t.peak > 64 && len(t.states) < t.peak/4 {
		states := make(map[string]*agentState, len(t.states))
		for k, v := range t.states {
			states[k] = v
		}
		t.states, t.peak = states, len(states)
	}
}

// forget marks a removed state, so the liveness writer does not write for
// an Agent that is gone, and drops what it holds at once (a handler racing
// the delete may still hold the state itself).
func (s *agentState) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone = true
	s.lastSeen, s.persisted, s.queued, s.version = time.Time{}, time.Time{}, false, ""
	s.applied, s.warned, s.limiter, s.runs = nil, nil, nil, nil
	s.doc, s.plan, s.trail, s.rebinding = cachedDoc{}, cachedPlan{}, checkInTrail{}, ""
}

// size is how many agents the table holds.
func (t *agentTable) size() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.states)
}

// olderVersion reports whether resource version a is known to be older than
// b. Versions are opaque to clients in general; the API server's are etcd
// revisions, so they compare as numbers, and anything else counts as not
// older, which leaves the informer's word final.
func olderVersion(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// handler keeps the table in step with the informer: a delete forgets the
// agent whole.
func (t *agentTable) handler() toolscache.ResourceEventHandler {
	return indexHandler(t.put, func(a *redflagv1.Agent) { t.remove(a.Namespace + "/" + a.Name) })
}
