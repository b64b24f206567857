package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestOneProcessRidesOutAnAPIOutage: the chart's default topology runs the
// gateway and the leader-elected controllers in one process. A 30 s
// kube-apiserver outage costs the controllers their leadership after about
// ten seconds; the process must not exit with it. The gateway keeps
// answering check-ins from memory through the whole outage, and afterwards
// the controllers are elected again and reconcile (a new token turns
// Active).
func TestOneProcessRidesOutAnAPIOutage(t *testing.T) {
	c := startCluster(t) // one manager, --leader-elect
	probe := enrollSim(t, c, applyToken(t, c, "one-process", replicaTokenManifest))
	if err := probe.checkIn(); err != nil {
		t.Fatalf("check-in before the outage: %v", err)
	}
	pid := c.manager.cmd.Process.Pid

	_, restart := outage(t, c, 30*time.Second)
	deadline := time.Now().Add(28 * time.Second)
	answered := 0
	for time.Now().Before(deadline) {
		if c.manager.exited() {
			t.Fatalf("the manager exited during the outage:\n%s", tail(c.manager.out.String(), 3000))
		}
		err := probe.checkIn()
		var herr *hostclient.Error
		switch {
		case err == nil:
			answered++
		case errors.As(err, &herr) && herr.Code == protocol.CodeRateLimited:
		default:
			t.Errorf("check-in %s into the outage: %v", time.Since(deadline.Add(-28*time.Second)).Round(time.Second), err)
		}
		time.Sleep(time.Second)
	}
	restart()
	if answered < 20 {
		t.Errorf("%d check-ins answered during a 28 s window of the outage, want about one a second", answered)
	}
	if !strings.Contains(c.manager.out.String(), "campaigning for leadership again") {
		t.Errorf("the controllers never lost leadership, so the outage proved nothing:\n%s", tail(c.manager.out.String(), 3000))
	}
	if c.manager.exited() || c.manager.cmd.Process.Pid != pid {
		t.Fatal("the manager process did not survive the outage")
	}
	// Elected again, the controllers reconcile: a new token turns Active.
	// Allow for client-go's watch backoff (up to a minute with jitter)
	// before the informers see the API server again.
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: "one-process", Name: "after-outage"}}
	if err := c.env.Client.Create(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	eventually(t, 120*time.Second, "the controllers to make a token created after the outage Active", func() bool {
		_ = c.env.Client.Get(context.Background(), client.ObjectKeyFromObject(tok), tok)
		return tok.Status.Phase == redflagv1.TokenActive
	})
	if err := probe.checkIn(); err != nil {
		var herr *hostclient.Error
		if !errors.As(err, &herr) || herr.Code != protocol.CodeRateLimited {
			t.Errorf("check-in after the outage: %v", err)
		}
	}
}
