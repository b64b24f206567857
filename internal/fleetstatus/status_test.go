package fleetstatus_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/testenv"
)

// TestStatusPrintsTheFleetPerNamespace builds the plugin, runs it as
// kubectl would against a real API server holding two namespaces of
// Agents and AgentUpdates, and checks its exact output, then with -n.
func TestStatusPrintsTheFleetPerNamespace(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	c := env.Client
	now := time.Now()
	for _, ns := range []string{"prod", "staging", "empty"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	agent := func(ns, name string, ready metav1.ConditionStatus, security int32, since time.Duration) {
		t.Helper()
		a := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: redflagv1.AgentSpec{MachineID: name, PublicKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}
		if err := c.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		a.Status.Conditions = []metav1.Condition{{Type: redflagv1.ConditionReady, Status: ready, Reason: "Test", LastTransitionTime: metav1.Now()}}
		a.Status.Updates = redflagv1.UpdateInventory{Total: security + 2, Security: security}
		if since > 0 {
			at := metav1.NewTime(now.Add(-since))
			a.Status.Updates.SecuritySince = &at
		}
		if err := c.Status().Update(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	agent("prod", "web-1", metav1.ConditionTrue, 3, 9*day+time.Hour)
	agent("prod", "web-2", metav1.ConditionTrue, 1, 2*day+time.Hour)
	agent("prod", "db-1", metav1.ConditionUnknown, 0, 0)
	agent("staging", "st-1", metav1.ConditionTrue, 0, 0)
	agent("staging", "st-2", metav1.ConditionFalse, 2, 5*time.Hour+time.Minute)
	rollout := func(ns, name string, phase redflagv1.RolloutPhase) {
		t.Helper()
		u := &redflagv1.AgentUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: redflagv1.AgentUpdateSpec{
			Agents: []string{"web-1"}, Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeSecurity},
		}}
		if err := c.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		u.Status.Phase = phase
		if err := c.Status().Update(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	rollout("prod", "security-now", redflagv1.RolloutProgressing)
	rollout("prod", "last-week", redflagv1.RolloutSucceeded)
	rollout("prod", "broken", redflagv1.RolloutHalted)
	rollout("staging", "canary", redflagv1.RolloutWaiting)

	dir := t.TempDir()
	kubeconfig, err := env.AddAdmin()
	if err != nil {
		t.Fatal(err)
	}
	kcFile := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcFile, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "kubectl-redflag")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-redflag")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		// As kubectl runs a plugin: the kubeconfig from the environment.
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kcFile)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl-redflag %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}

	want := `NAMESPACE   HOSTS   READY   SECURITY   OLDEST SECURITY   ROLLOUTS   HALTED
prod        3       2       2          9d                1          1
staging     2       1       1          5h1m              1          0
TOTAL       5       3       3          9d                2          1
`
	if got := run("status"); got != want {
		t.Errorf("kubectl redflag status:\n%s\nwant:\n%s", got, want)
	}
	want = `NAMESPACE   HOSTS   READY   SECURITY   OLDEST SECURITY   ROLLOUTS   HALTED
staging     2       1       1          5h1m              1          0
`
	if got := run("status", "-n", "staging"); got != want {
		t.Errorf("kubectl redflag status -n staging:\n%s\nwant:\n%s", got, want)
	}
	want = "No Agents or AgentUpdates found.\n"
	if got := run("status", "--namespace", "empty"); got != want {
		t.Errorf("kubectl redflag status --namespace empty:\n%q\nwant:\n%q", got, want)
	}
}

// TestBadUsageChangesNothingAndSaysHow: an unknown subcommand or flag is
// exit code 2 with the usage; an unreachable cluster is exit code 1 with
// the cause.
func TestBadUsageChangesNothingAndSaysHow(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{nil, {"stauts"}, {"status", "--bogus"}, {"status", "extra"}} {
		out.Reset()
		errOut.Reset()
		if code := fleetstatusMain(args, &out, &errOut); code != 2 || out.Len() != 0 || !bytes.Contains(errOut.Bytes(), []byte("Usage: kubectl redflag status")) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
	}
	errOut.Reset()
	if code := fleetstatusMain([]string{"status", "--kubeconfig", filepath.Join(t.TempDir(), "missing")}, &out, &errOut); code != 1 || !bytes.Contains(errOut.Bytes(), []byte("kubeconfig")) {
		t.Errorf("missing kubeconfig: exit %d, stderr %q", code, errOut.String())
	}
}
