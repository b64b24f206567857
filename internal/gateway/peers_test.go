package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/redflag-io/redflag/internal/protocol"
)

func testPeers(self string, others ...string) (*peerSet, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	p := newPeerSet(peer{name: self, address: "https://" + self}, "redflag-system", nil, nil, clk, logr.Discard())
	for _, o := range others {
		p.live = append(p.live, peer{name: o, address: "https://" + o})
	}
	return p, clk
}

func TestEveryReplicaOwnsAShareAndALeaverMovesOnlyItsOwn(t *testing.T) {
	p, clk := testPeers("gw-a", "gw-b", "gw-c")
	const agents = 3000
	before := map[string]string{}
	share := map[string]int{}
	for i := range agents {
		a := fmt.Sprintf("fleet/host-%04d", i)
		before[a] = p.owner(a).name
		share[before[a]]++
	}
	for name, n := range share {
		if n < agents/5 || n > agents/2 {
			t.Errorf("%s owns %d of %d agents; want about a third each: %v", name, n, agents, share)
		}
	}
	// Every replica computes the same owner from the same membership.
	q, _ := testPeers("gw-c", "gw-a", "gw-b")
	for a, o := range before {
		if got := q.owner(a).name; got != o {
			t.Fatalf("%s: gw-a says %s owns it, gw-c says %s", a, o, got)
		}
	}
	// gw-b fails a forward: its agents go to the others, nobody else's move.
	p.markSuspect("gw-b")
	for a, o := range before {
		got := p.owner(a).name
		if got == "gw-b" || (o != "gw-b" && got != o) {
			t.Fatalf("%s: owner %s after gw-b left, was %s", a, got, o)
		}
	}
	clk.Step(peerSuspectFor + time.Second)
	for a, o := range before {
		if got := p.owner(a).name; got != o {
			t.Fatalf("%s: owner %s once gw-b is back, want %s again", a, got, o)
		}
	}
}

func TestAForgedOrReusedPeerHeaderIsNotTrusted(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	material := testServing(t)
	p, _ := testPeers("gw-a", "gw-b")
	f, err := newForwarder(p, key, material.caPEM, newServingCert(material, testGauge()).leaf, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	forger, err := newForwarder(p, otherKey, material.caPEM, newServingCert(material, testGauge()).leaf, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	request := func(nonce string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, protocol.PathReport, nil)
		r.Header.Set(protocol.HeaderAgent, "fleet/web-1")
		r.Header.Set(protocol.HeaderNonce, nonce)
		r.Header.Set(protocol.HeaderTimestamp, "1796000000")
		r.Header.Set(protocol.HeaderSignature, "c2ln")
		return r
	}
	genuine := request("n1")
	genuine.Header.Set(headerPeer, "gw-b "+f.mac("gw-b", genuine))
	if !f.fromPeer(genuine) {
		t.Fatal("a header made with the shared key is not accepted")
	}
	for name, r := range map[string]*http.Request{
		"another key":       withPeerHeader(request("n2"), "gw-b", forger),
		"another request":   withHeader(request("n3"), headerPeer, "gw-b "+f.mac("gw-b", request("n2"))),
		"another replica":   withHeader(request("n4"), headerPeer, "gw-a "+f.mac("gw-b", request("n4"))),
		"no MAC":            withHeader(request("n5"), headerPeer, "gw-b"),
		"garbage":           withHeader(request("n6"), headerPeer, "\x00\xff"),
		"a host, unchanged": request("n7"),
	} {
		if f.fromPeer(r) {
			t.Errorf("%s: trusted as a peer", name)
		}
		if r.Header.Get(headerPeer) != "" {
			t.Errorf("%s: the header was left on the request", name)
		}
	}
}

func withHeader(r *http.Request, k, v string) *http.Request {
	r.Header.Set(k, v)
	return r
}

func withPeerHeader(r *http.Request, from string, f *forwarder) *http.Request {
	return withHeader(r, headerPeer, from+" "+f.mac(from, r))
}

func TestPeersTrustOnlyTheGatewaysOwnCA(t *testing.T) {
	ours, theirs := testServing(t), testServing(t)
	cfg, err := peerTLSConfig(ours.caPEM, newServingCert(ours, testGauge()).leaf)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.VerifyPeerCertificate(ours.cert.Certificate, nil); err != nil {
		t.Errorf("a replica with the same certificate is refused: %v", err)
	}
	if err := cfg.VerifyPeerCertificate(theirs.cert.Certificate, nil); err == nil {
		t.Error("a certificate from another CA is trusted as a peer")
	}
	// A publicly issued certificate (no ca.crt): only the same key passes.
	cfg, err = peerTLSConfig(nil, newServingCert(ours, testGauge()).leaf)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.VerifyPeerCertificate(ours.cert.Certificate, nil); err != nil {
		t.Errorf("the gateway's own key is refused: %v", err)
	}
	if err := cfg.VerifyPeerCertificate(theirs.cert.Certificate, nil); err == nil {
		t.Error("another key is trusted as a peer")
	}
}

func testServing(t *testing.T) servingMaterial {
	t.Helper()
	data, err := selfSigned(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(data[keyTLSCert], data[keyTLSKey])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseCertificate(cert.Certificate[0]); err != nil {
		t.Fatal(err)
	}
	return servingMaterial{cert: cert, caPEM: data[keyCACert]}
}

// TestMembershipRidesOutAnAPIOutage: while the Leases cannot be listed the
// last known replicas stay, and when listing works again a replica whose
// Lease could not be renewed during the outage is kept for one Lease
// duration, time to renew, rather than dropped at once (which would move
// its agents to other replicas and back). A Lease deleted meanwhile, or
// one still not renewed after that, is dropped.
func TestMembershipRidesOutAnAPIOutage(t *testing.T) {
	p, clk := testPeers("gw-a")
	lease := func(name string) *coordinationv1.Lease {
		renewed := metav1.NewMicroTime(clk.Now())
		return &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "redflag-system", Name: p.leaseName(name),
				Labels: map[string]string{PeerLabel: "true"}, Annotations: map[string]string{PeerAddressAnnotation: "https://" + name},
			},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To(int32(peerLeaseSeconds)), RenewTime: &renewed},
		}
	}
	var down atomic.Bool
	c := fake.NewClientBuilder().WithObjects(lease("gw-b"), lease("gw-c")).WithInterceptorFuncs(interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if down.Load() {
				return errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
			}
			return c.List(ctx, list, opts...)
		},
	}).Build()
	p.client, p.reader = c, c
	ctx := context.Background()
	liveNames := func() []string {
		var names []string
		for _, m := range p.live {
			names = append(names, m.name)
		}
		return names
	}
	want := func(step string, names ...string) {
		t.Helper()
		if got := liveNames(); !slices.Equal(got, names) {
			t.Fatalf("%s: live replicas %v, want %v", step, got, names)
		}
	}
	if err := p.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want("before the outage", "gw-a", "gw-b", "gw-c")

	down.Store(true)
	for range 9 { // 45 s: every Lease expires meanwhile
		clk.Step(peerListEvery)
		if err := p.refresh(ctx); err == nil {
			t.Fatal("listing worked while the API server was down")
		}
		want("during the outage", "gw-a", "gw-b", "gw-c")
	}
	// gw-c's pod was deleted during the outage (its Lease with it).
	if err := c.Delete(ctx, lease("gw-c")); err != nil {
		t.Fatal(err)
	}
	down.Store(false)
	clk.Step(peerListEvery)
	if err := p.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want("right after the outage", "gw-a", "gw-b")

	// gw-b never renews: dropped once it has had a Lease duration.
	recovered := clk.Now()
	for slices.Contains(liveNames(), "gw-b") {
		if clk.Since(recovered) > peerLeaseSeconds*time.Second+peerListEvery {
			t.Fatalf("gw-b still live %s after the outage without renewing", clk.Since(recovered))
		}
		clk.Step(peerListEvery)
		if err := p.refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if gap := clk.Since(recovered); gap < peerLeaseSeconds*time.Second {
		t.Errorf("gw-b dropped %s after the outage; it had %ds to renew", gap, peerLeaseSeconds)
	}
}
