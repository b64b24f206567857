package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// host is one simulated machine: its own machine ID, config and state dir,
// running the real agent binary.
type host struct {
	t        *testing.T
	bin      string
	dir      string
	env      []string
	config   string
	stateDir string
}

func newHost(t *testing.T, machineID string) *host {
	t.Helper()
	_, bin := buildBinaries(t)
	dir := t.TempDir()
	idFile := filepath.Join(dir, "machine-id")
	if err := os.WriteFile(idFile, []byte(machineID+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	return &host{
		t: t, bin: bin, dir: dir, env: []string{"REDFLAG_MACHINE_ID_FILE=" + idFile},
		config: filepath.Join(dir, "agent.json"), stateDir: filepath.Join(dir, "state"),
	}
}

func (h *host) command(args ...string) *exec.Cmd {
	cmd := exec.Command(h.bin, append(args, "--config", h.config, "--state-dir", h.stateDir)...)
	cmd.Env = append(os.Environ(), h.env...)
	return cmd
}

func (h *host) register(c *cluster, token string) string {
	h.t.Helper()
	out, err := h.command("register", "--server", c.gatewayURL, "--token", token, "--ca-file", c.caFile).CombinedOutput()
	if err != nil {
		h.t.Fatalf("redflag-agent register: %v\n%s", err, out)
	}
	return string(out)
}

func (h *host) run() *process {
	return startProcess(h.t, "agent", h.bin, h.env, "run", "--config", h.config, "--state-dir", h.stateDir)
}

// tokenFor creates a RegistrationToken and reads the token from the Secret
// its controller writes, as a user would with kubectl.
func tokenFor(t *testing.T, c *cluster, ns string, spec redflagv1.RegistrationTokenSpec) string {
	t.Helper()
	ctx := context.Background()
	if err := c.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: spec}
	if err := c.env.Client.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the token to become Active", func() bool {
		_ = c.env.Client.Get(ctx, client.ObjectKeyFromObject(tok), tok)
		return tok.Status.Phase == redflagv1.TokenActive && tok.Status.SecretName != ""
	})
	var secret corev1.Secret
	if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: tok.Status.SecretName}, &secret); err != nil {
		t.Fatal(err)
	}
	return string(secret.Data["token"])
}

func agentReady(a *redflagv1.Agent) (metav1.ConditionStatus, string) {
	if c := meta.FindStatusCondition(a.Status.Conditions, redflagv1.ConditionReady); c != nil {
		return c.Status, c.Reason
	}
	return "", ""
}

// TestHostEnrollsChecksInFallsSilentAndReturns is the first slice end to end:
// the real manager, the real agent binary, and what kubectl would show.
func TestHostEnrollsChecksInFallsSilentAndReturns(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	token := tokenFor(t, c, "fleet", redflagv1.RegistrationTokenSpec{
		MaxUses: ptr(int32(5)), AgentLabels: map[string]redflagv1.LabelValue{"tier": "web"},
	})
	h := newHost(t, "0123456789abcdef0123456789abcdef")
	out := h.register(c, token)
	if !strings.Contains(out, "enrolled as Agent fleet/") {
		t.Fatalf("register said %q", out)
	}
	// Re-running the installer's register step: same Agent, no second seat.
	h.register(c, token)

	var agents redflagv1.AgentList
	if err := c.env.Client.List(ctx, &agents, client.InNamespace("fleet")); err != nil {
		t.Fatal(err)
	}
	if len(agents.Items) != 1 {
		t.Fatalf("%d Agents after registering one host twice, want 1", len(agents.Items))
	}
	key := client.ObjectKeyFromObject(&agents.Items[0])
	agent := &agents.Items[0]
	if agent.Labels["tier"] != "web" || agent.Labels[redflagv1.LabelOS] == "" {
		t.Errorf("agent labels %v: want the token's labels plus OS", agent.Labels)
	}
	var tok redflagv1.RegistrationToken
	_ = c.env.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "fleet"}, &tok)
	if tok.Status.UsedCount != 1 {
		t.Errorf("token used %d seats, want 1", tok.Status.UsedCount)
	}

	// Check in every 5s, so silence shows within 15s.
	agent.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second}
	if err := c.env.Client.Update(ctx, agent); err != nil {
		t.Fatal(err)
	}
	daemon := h.run()
	get := func() *redflagv1.Agent {
		var a redflagv1.Agent
		if err := c.env.Client.Get(ctx, key, &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	eventually(t, 30*time.Second, "the agent to be Ready with its facts", func() bool {
		a := get()
		st, _ := agentReady(a)
		return st == metav1.ConditionTrue && a.Status.FactsHash != "" && len(a.Status.Storage) > 0
	})
	a := get()
	if a.Status.OS.Kernel == "" || a.Status.System.MemoryBytes == 0 || a.Status.Hostname == "" {
		t.Errorf("facts missing from status: os=%+v system=%+v hostname=%q", a.Status.OS, a.Status.System, a.Status.Hostname)
	}
	eventually(t, 20*time.Second, "an AgentStarted Event", func() bool { return slices.Contains(eventReasons(t, c, key), "AgentStarted") })

	// A second agent on the same config is refused.
	out2, err := h.command("run").CombinedOutput()
	if err == nil || !strings.Contains(string(out2), "already running") {
		t.Errorf("a second agent on the same state dir: err=%v output=%s", err, out2)
	}
	// status shows the last check-in.
	st, err := h.command("status").CombinedOutput()
	if err != nil || !strings.Contains(string(st), "last check-in:") {
		t.Errorf("redflag-agent status: %v\n%s", err, st)
	}

	// Power loss: the agent stops checking in; within three intervals
	// (15s, plus the controller's reaction) it shows as silent.
	daemon.kill()
	killedAt := time.Now()
	eventually(t, 30*time.Second, "the agent to be shown silent", func() bool {
		s, reason := agentReady(get())
		return s == metav1.ConditionUnknown && reason == "AgentSilent"
	})
	if took := time.Since(killedAt); took > 20*time.Second {
		t.Errorf("silence showed after %s; want within three 5s intervals (plus a second)", took)
	}

	// It comes back.
	h.run()
	eventually(t, 30*time.Second, "the agent to be Ready again", func() bool {
		s, _ := agentReady(get())
		return s == metav1.ConditionTrue
	})
	var reasons []string
	for _, e := range get().Status.History {
		reasons = append(reasons, e.Reason)
	}
	for _, want := range []string{"AgentRegistered", "AgentSilent", "AgentReturned"} {
		if !slices.Contains(reasons, want) {
			t.Errorf("history %v lacks %s", reasons, want)
		}
	}
}

func eventReasons(t *testing.T, c *cluster, key client.ObjectKey) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := c.env.Client.List(context.Background(), &list, client.InNamespace(key.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == key.Name {
			out = append(out, e.Reason)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
