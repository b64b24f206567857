package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/controllers"
)

// TestControllersCampaignAgainAfterLosingLeadership runs the controllers as
// one process with the gateway does (RunElected over a cache another
// manager owns), takes their leadership away by giving the Lease to
// someone else, and checks they stop, win it back once the other holder's
// lease runs out, and reconcile again, with the owning manager untouched.
func TestControllersCampaignAgainAfterLosingLeadership(t *testing.T) {
	ns := newNamespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	owner, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	ownerDone := make(chan error, 1)
	go func() { ownerDone <- owner.Start(ctx) }()
	if !owner.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the owning manager's cache did not sync")
	}

	var mu sync.Mutex
	var logs []string
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		logs = append(logs, prefix+" "+args)
		mu.Unlock()
	}, funcr.Options{})
	election := ctrl.Options{
		Scheme: env.Scheme, LeaderElectionID: "redflag-elected-test", LeaderElectionNamespace: ns,
		LeaderElectionReleaseOnCancel: true,
		// Short terms keep the test short; the production defaults are 15s/10s/2s.
		LeaseDuration: ptr.To(4 * time.Second), RenewDeadline: ptr.To(3 * time.Second), RetryPeriod: ptr.To(500 * time.Millisecond),
	}
	electedDone := make(chan error, 1)
	go func() {
		electedDone <- controllers.RunElected(ctx, env.Config, election, owner.GetCache(), controllers.Settings{}, log)
	}()

	tokenActive(t, ns, "before")

	// Someone else takes the Lease: the controllers lose leadership.
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: ns, Name: "redflag-elected-test"}
	if err := env.Client.Get(ctx, key, &lease); err != nil {
		t.Fatal(err)
	}
	lease.Spec.HolderIdentity = ptr.To("another-replica")
	lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	if err := env.Client.Update(ctx, &lease); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if logged(&mu, &logs, "campaigning for leadership again") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("the controllers never noticed they lost the Lease; log:\n%s", strings.Join(logs, "\n"))
	})
	select {
	case err := <-ownerDone:
		t.Fatalf("the owning manager stopped with the controllers: %v", err)
	case err := <-electedDone:
		t.Fatalf("RunElected gave up: %v", err)
	default:
	}
	// The other holder never renews; once its lease runs out the
	// controllers win it back and reconcile what was made meanwhile.
	tokenActive(t, ns, "after")

	cancel()
	for _, done := range []chan error{electedDone, ownerDone} {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("stopping: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("did not stop within 30s")
		}
	}
}

func logged(mu *sync.Mutex, logs *[]string, s string) bool {
	mu.Lock()
	defer mu.Unlock()
	for _, l := range *logs {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// tokenActive creates a RegistrationToken and waits for the controller to
// make it Active.
func tokenActive(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	tok := &redflagv1.RegistrationToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       redflagv1.RegistrationTokenSpec{TTL: &metav1.Duration{Duration: time.Hour}, MaxUses: ptr.To(int32(1))},
	}
	if err := env.Client.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(tok), tok); err != nil {
			return err
		}
		if tok.Status.Phase != redflagv1.TokenActive {
			return fmt.Errorf("token %s is %q, not Active", name, tok.Status.Phase)
		}
		return nil
	})
}
