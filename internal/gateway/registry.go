package gateway

import (
	"crypto/ed25519"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/rollout"
)

// agentRecord is the little the gateway needs of an Agent, copied out of the
// informer cache once per change. Records are never mutated after they are
// stored, so handlers read them without locks.
type agentRecord struct {
	// st is the agent's state in the table (agenttable.go); nil for a
	// record that was never stored there.
	st              *agentState
	key             string // namespace/name
	namespace, name string
	uid             types.UID
	// machineID is the machine ID requests must carry: the value of the
	// redflag.io/rebind-machine-id annotation while one is set,
	// spec.machineID otherwise. rebindPending says the Agent is rebound but
	// status.reboundMachineID does not echo it yet.
	machineID         string
	rebindPending     bool
	publicKey         ed25519.PublicKey
	revoked           bool // spec.revoked, or the Agent is being deleted
	paused            bool
	interval          time.Duration // zero: the gateway's default
	heartbeatUntil    time.Time
	persistedLastSeen time.Time
	ready             metav1.ConditionStatus
	factsHash         string
	agentVersion      string
	labels            map[string]string
	holds             []string                // spec.holds: never handed out in work
	lastRun           map[string]*metav1.Time // by subsystem
	lastResult        map[string]redflagv1.RunResult
	updatesHash       string
	dockerHash        string
	scanNow           string // the annotation, when not yet handled
	subsystems        []redflagv1.SubsystemStatus
	resourceVersion   string
	// workID and workPhase are status.currentWork's; completedWork holds
	// the IDs of finished work, so a finished ID is not handed out again.
	workID        string
	workPhase     redflagv1.WorkPhase
	completedWork []string
	// abandoned holds the IDs of work the AgentUpdate controller recorded
	// as timed out (HostTimedOut): the host is told to drop them.
	abandoned []string
}

// ref is a reference to the Agent, enough to address Events to it.
func (r *agentRecord) ref() *redflagv1.Agent {
	return agentRef(r.namespace, r.name, r.uid)
}

func recordOf(a *redflagv1.Agent) *agentRecord {
	r := &agentRecord{
		key: a.Namespace + "/" + a.Name, namespace: a.Namespace, name: a.Name, uid: a.UID,
		machineID: a.Spec.MachineID, revoked: a.Spec.Revoked || a.DeletionTimestamp != nil, paused: a.Spec.Paused, holds: a.Spec.Holds,
		factsHash: a.Status.FactsHash, agentVersion: a.Status.AgentVersion, ready: metav1.ConditionUnknown,
	}
	if v := a.Annotations[redflagv1.RebindMachineIDAnnotation]; v != "" && v != a.Spec.MachineID && machineIDPattern.MatchString(v) {
		r.machineID, r.rebindPending = v, a.Status.ReboundMachineID != v
	}
	// A key the schema let through but that does not parse leaves the
	// record keyless: every request from it fails verification.
	r.publicKey, _ = protocol.ParsePublicKey(a.Spec.PublicKey)
	if a.Spec.CheckInInterval != nil {
		r.interval = a.Spec.CheckInInterval.Duration
	}
	if a.Spec.Heartbeat != nil {
		r.heartbeatUntil = a.Spec.Heartbeat.Until.Time
	}
	if a.Status.LastSeen != nil {
		r.persistedLastSeen = a.Status.LastSeen.Time
	}
	if c := meta.FindStatusCondition(a.Status.Conditions, redflagv1.ConditionReady); c != nil {
		r.ready = c.Status
	}
	r.labels, r.updatesHash = a.Labels, a.Status.Updates.Hash
	r.dockerHash = ""
	if a.Status.Docker != nil {
		r.dockerHash = a.Status.Docker.Hash
	}
	if v := truncate(a.Annotations[redflagv1.ScanNowAnnotation], 64); v != "" && v != a.Status.ScanNowHandled {
		r.scanNow = v
	}
	r.lastRun = make(map[string]*metav1.Time, len(a.Status.Subsystems))
	r.lastResult = make(map[string]redflagv1.RunResult, len(a.Status.Subsystems))
	r.subsystems, r.resourceVersion = a.Status.Subsystems, a.ResourceVersion
	for _, s := range a.Status.Subsystems {
		r.lastRun[s.Name], r.lastResult[s.Name] = s.LastRun, s.Result
	}
	if w := a.Status.CurrentWork; w != nil {
		r.workID, r.workPhase = w.ID, w.Phase
	}
	for _, c := range a.Status.CompletedWork {
		r.completedWork = append(r.completedWork, c.ID)
		if c.Phase == redflagv1.WorkFailed && c.Reason == rollout.HostTimedOut {
			r.abandoned = append(r.abandoned, c.ID)
		}
	}
	return r
}

// tokenIndex maps a token's public id to its object, fed by the
// RegistrationToken informer, so enrollment finds a token without a list.
type tokenIndex struct {
	mu   sync.RWMutex
	byID map[string]types.NamespacedName
	ids  map[types.NamespacedName]string
}

func newTokenIndex() *tokenIndex {
	return &tokenIndex{byID: map[string]types.NamespacedName{}, ids: map[types.NamespacedName]string{}}
}

func (t *tokenIndex) lookup(id string) (types.NamespacedName, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, ok := t.byID[id]
	return n, ok
}

func (t *tokenIndex) set(tok *redflagv1.RegistrationToken) {
	n := types.NamespacedName{Namespace: tok.Namespace, Name: tok.Name}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.ids[n]; ok {
		delete(t.byID, old)
		delete(t.ids, n)
	}
	if id := tok.Status.TokenID; id != "" {
		t.byID[id] = n
		t.ids[n] = id
	}
}

func (t *tokenIndex) remove(n types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.ids[n]; ok {
		delete(t.byID, old)
		delete(t.ids, n)
	}
}

func (t *tokenIndex) handler() toolscache.ResourceEventHandler {
	return indexHandler(t.set, func(tok *redflagv1.RegistrationToken) {
		t.remove(types.NamespacedName{Namespace: tok.Namespace, Name: tok.Name})
	})
}
