package gateway

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Several gateway replicas serve one fleet (active-active). What protects a
// host's requests lives in memory: nonces seen, the per-agent rate limit,
// report keys applied, the scan ledger, liveness, clone detection. Rather
// than share that state through the API server (a write per request, the
// very cost the design forbids), every agent has one owning replica and the
// others pass its requests on (forward.go). The owner is chosen by
// rendezvous hashing over the live replicas, so a replica joining or
// leaving moves only its own share of the fleet.
//
// Each replica announces itself with a Lease in the gateway's namespace
// (label redflag.io/gateway-peer, its address in an annotation), renewed
// every peerRenewEvery; the others list those Leases. Membership costs the
// API server one write per replica every ten seconds and no watch.

const (
	// PeerLabel marks the Leases gateway replicas announce themselves with.
	PeerLabel = "redflag.io/gateway-peer"
	// PeerAddressAnnotation holds a replica's URL for its peers.
	PeerAddressAnnotation = "redflag.io/peer-address"

	peerLeaseSeconds = 30
	peerRenewEvery   = 10 * time.Second
	peerListEvery    = 5 * time.Second
	// A replica whose forward failed is skipped this long, so its share is
	// served locally while it is down instead of failing every request.
	peerSuspectFor = 15 * time.Second
	// Leases of replicas gone this long are deleted (a crashed replica
	// cannot delete its own).
	peerForgetAfter = 10 * time.Minute
)

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;create;update;delete

// peer is one gateway replica.
type peer struct {
	name    string
	address string // https://host:port
}

// peerSet knows the live replicas and which one owns an agent.
type peerSet struct {
	self      peer
	namespace string
	client    client.Client
	reader    client.Reader
	clock     clock.PassiveClock
	log       logr.Logger

	mu      sync.RWMutex
	live    []peer               // sorted by name; always holds self
	suspect map[string]time.Time // name → until

	// changedAt is when the live set last changed (ownersChangedAt).
	changedAt time.Time

	// listedAt is when the Leases were last listed; after a gap in the
	// listing (an API outage), Leases are judged as of judgeAsOf until
	// graceUntil (see judgeTime). Only refresh touches these.
	listedAt, judgeAsOf, graceUntil time.Time
}

func newPeerSet(self peer, namespace string, c client.Client, r client.Reader, clk clock.PassiveClock, log logr.Logger) *peerSet {
	return &peerSet{
		self: self, namespace: namespace, client: c, reader: r, clock: clk, log: log.WithName("peers"),
		live: []peer{self}, suspect: map[string]time.Time{},
	}
}

// owner is the replica that serves agent: the live, unsuspected replica
// with the highest hash of (replica, agent).
func (p *peerSet) owner(agent string) peer {
	now := p.clock.Now()
	p.mu.RLock()
	defer p.mu.RUnlock()
	best, bestScore := p.self, uint64(0)
	for _, c := range p.live {
		if until, ok := p.suspect[c.name]; ok && now.Before(until) {
			continue
		}
		if s := rendezvousScore(c.name, agent); s > bestScore || (s == bestScore && c.name < best.name) {
			best, bestScore = c, s
		}
	}
	return best
}

func rendezvousScore(replica, agent string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(replica))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(agent))
	// fnv's last bytes stir the high bits weakly; a final mix spreads them.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// markSuspect takes a replica out of ownership for a while after a failed
// forward.
func (p *peerSet) markSuspect(name string) {
	p.mu.Lock()
	p.suspect[name] = p.clock.Now().Add(peerSuspectFor)
	p.mu.Unlock()
}

// ownersChangedAt is the last time, up to now, at which owner() could
// have changed its answer for some agent: the live set changed, or a
// replica became suspect or stopped being one.
func (p *peerSet) ownersChangedAt(now time.Time) time.Time {
	p.mu.RLock()
	defer p.mu.RUnlock()
	last := p.changedAt
	for _, until := range p.suspect {
		since := until.Add(-peerSuspectFor)
		if !until.After(now) && until.After(last) {
			last = until
		} else if since.After(last) && !since.After(now) {
			last = since
		}
	}
	return last
}

// run announces this replica and follows the others until ctx ends, then
// withdraws the announcement so peers stop forwarding at once.
func (p *peerSet) run(ctx context.Context) {
	lastRenew := time.Time{}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if now := p.clock.Now(); now.Sub(lastRenew) >= peerRenewEvery {
			if err := p.renew(ctx); err != nil {
				p.log.Error(err, "announcing this gateway replica to its peers")
			} else {
				lastRenew = now
			}
		}
		if err := p.refresh(ctx); err != nil {
			p.log.Error(err, "listing gateway replicas; keeping the last known set")
		}
	}, peerListEvery)
	stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: p.namespace, Name: p.leaseName(p.self.name)}}
	if err := p.client.Delete(stop, lease); err != nil && !apierrors.IsNotFound(err) {
		p.log.Error(err, "withdrawing this gateway replica's Lease; peers notice when it expires")
	}
}

func (p *peerSet) leaseName(replica string) string { return "redflag-gateway-" + replica }

// renew creates or refreshes this replica's Lease.
func (p *peerSet) renew(ctx context.Context) error {
	now := metav1.NewMicroTime(p.clock.Now())
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: p.namespace, Name: p.leaseName(p.self.name)}
	err := p.reader.Get(ctx, key, &lease)
	if apierrors.IsNotFound(err) {
		lease = coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: key.Namespace, Name: key.Name,
				Labels:      map[string]string{PeerLabel: "true"},
				Annotations: map[string]string{PeerAddressAnnotation: p.self.address},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(p.self.name), LeaseDurationSeconds: ptr.To(int32(peerLeaseSeconds)),
				AcquireTime: &now, RenewTime: &now,
			},
		}
		if err := p.client.Create(ctx, &lease); err != nil {
			return fmt.Errorf("creating Lease %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Lease %s: %w", key, err)
	}
	lease.Spec.RenewTime = &now
	lease.Spec.HolderIdentity = ptr.To(p.self.name)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(peerLeaseSeconds))
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[PeerAddressAnnotation] = p.self.address
	if err := p.client.Update(ctx, &lease); err != nil {
		return fmt.Errorf("renewing Lease %s: %w", key, err)
	}
	return nil
}

// judgeTime is the instant a listing judges Leases at, called once per
// successful listing. Normally now. After a gap in the listing (the API
// server was unreachable, so no replica could renew either), every Lease
// that was live at the last listing before the gap would look expired;
// for one Lease duration after the gap they are judged as of that last
// listing, which gives each replica time to renew before it is dropped.
// A Lease deleted meanwhile is gone from the list all the same.
func (p *peerSet) judgeTime(now time.Time) time.Time {
	if !p.listedAt.IsZero() && now.Sub(p.listedAt) > 3*peerListEvery {
		p.judgeAsOf, p.graceUntil = p.listedAt, now.Add(peerLeaseSeconds*time.Second)
	}
	p.listedAt = now
	if now.Before(p.graceUntil) {
		return p.judgeAsOf
	}
	return now
}

// refresh lists the replicas' Leases. A replica counts as live while its
// Lease has not expired as of this listing. When listing fails (the API
// server is down) the last set stands: nobody can renew then, and letting
// every Lease expire would split the fleet across replicas for no reason;
// a replica that really died is found by a failed forward instead.
func (p *peerSet) refresh(ctx context.Context) error {
	var leases coordinationv1.LeaseList
	if err := p.reader.List(ctx, &leases, client.InNamespace(p.namespace), client.MatchingLabels{PeerLabel: "true"}); err != nil {
		return fmt.Errorf("listing gateway Leases: %w", err)
	}
	now := p.clock.Now()
	judgeAt := p.judgeTime(now)
	live := []peer{p.self}
	for i := range leases.Items {
		l := &leases.Items[i]
		name, addr := ptr.Deref(l.Spec.HolderIdentity, ""), l.Annotations[PeerAddressAnnotation]
		if name == "" || name == p.self.name || addr == "" || l.Spec.RenewTime == nil {
			continue
		}
		expires := l.Spec.RenewTime.Add(time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, peerLeaseSeconds)) * time.Second)
		if judgeAt.Before(expires) {
			live = append(live, peer{name: name, address: addr})
			continue
		}
		if now.Sub(expires) > peerForgetAfter {
			if err := p.client.Delete(ctx, l); err != nil && !apierrors.IsNotFound(err) {
				p.log.Error(err, "deleting a long-expired gateway Lease", "lease", l.Name)
			}
		}
	}
	slices.SortFunc(live, func(a, b peer) int { return strings.Compare(a.name, b.name) })
	p.mu.Lock()
	changed := !slices.Equal(live, p.live)
	p.live = live
	if changed {
		p.changedAt = now
	}
	p.mu.Unlock()
	if changed {
		names := make([]string, len(live))
		for i, m := range live {
			names[i] = m.name
		}
		p.log.Info("gateway replicas", "live", names)
	}
	return nil
}
