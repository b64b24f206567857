package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

// BenchmarkCheckIn measures one signed check-in through the gateway's
// handler over real TLS, with the client's signing included: the gateway's
// whole per-check-in cost on the hot path (no API server involved, as for
// an unchanged check-in).
//
//	go test -run '^$' -bench CheckIn -benchtime 5s ./internal/gateway/
func BenchmarkCheckIn(b *testing.B) {
	g, err := New(Options{PerIPRate: 1e9, PerIPBurst: 1e9, PerAgentRate: 1e9, PerAgentBurst: 1e9}, Deps{Log: logr.Discard()})
	if err != nil {
		b.Fatal(err)
	}
	_, g.signingKey, _ = ed25519.GenerateKey(rand.Reader)
	const agents = 1000
	ids := make([]hostclient.Identity, agents)
	for i := range ids {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		a := &redflagv1.Agent{}
		a.Namespace, a.Name = "bench", fmt.Sprintf("host-%d", i)
		a.Spec.MachineID = fmt.Sprintf("machine-%d", i)
		a.Spec.PublicKey = base64.StdEncoding.EncodeToString(pub)
		now := metav1.Now()
		a.Status.LastSeen = &now
		g.agents.put(a)
		ids[i] = hostclient.Identity{Agent: "bench/" + a.Name, MachineID: a.Spec.MachineID, Key: priv}
	}
	srv := httptest.NewTLSServer(g.Handler())
	defer srv.Close()
	c := &hostclient.Client{BaseURL: srv.URL, HTTP: srv.Client()}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := c.CheckIn(ctx, ids[i%agents], protocol.CheckInRequest{AgentVersion: "v0.1.0", FactsHash: "x"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
