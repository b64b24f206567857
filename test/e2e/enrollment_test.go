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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

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
	id       string
}

func (h *host) machineID() string { return h.id }

func newHost(t *testing.T, machineID string) *host {
	t.Helper()
	_, bin := buildBinaries(t)
	dir := t.TempDir()
	idFile := filepath.Join(dir, "machine-id")
	if err := os.WriteFile(idFile, []byte(machineID+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	return &host{
		t: t, bin: bin, dir: dir, id: machineID, env: []string{"REDFLAG_MACHINE_ID_FILE=" + idFile},
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

// theOnlyAgent is the key of the one Agent in ns (the host just
// enrolled), made to check in every 5 seconds as the tests want.
func theOnlyAgent(t *testing.T, c *cluster, ns string) client.ObjectKey {
	t.Helper()
	var agents redflagv1.AgentList
	if err := c.env.Client.List(context.Background(), &agents, client.InNamespace(ns)); err != nil || len(agents.Items) != 1 {
		t.Fatalf("agents in %s: %v %v, want exactly one", ns, agents.Items, err)
	}
	key := client.ObjectKeyFromObject(&agents.Items[0])
	patchAgent(t, c, key, func(a *redflagv1.Agent) { a.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second} })
	return key
}

func (h *host) run() *process {
	return startProcess(h.t, "agent", h.bin, h.env, "run", "--config", h.config, "--state-dir", h.stateDir)
}

// applyToken applies a RegistrationToken written as a user writes it for
// kubectl, and reads the token from the Secret its controller writes.
func applyToken(t *testing.T, c *cluster, ns, manifest string) string {
	t.Helper()
	if err := c.env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return applyTokenIn(t, c, ns, manifest)
}

// applyTokenIn is applyToken in an existing namespace.
func applyTokenIn(t *testing.T, c *cluster, ns, manifest string) string {
	t.Helper()
	ctx := context.Background()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatalf("token manifest: %v", err)
	}
	obj.SetNamespace(ns)
	if err := c.env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("applying the token: %v", err)
	}
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: obj.GetName()}}
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

// kstatusOf is what kstatus (Flux, Argo CD, kubectl wait tooling) makes of
// an Agent.
func kstatusOf(t *testing.T, a *redflagv1.Agent) status.Status {
	t.Helper()
	a = a.DeepCopy()
	a.APIVersion, a.Kind = redflagv1.GroupVersion.String(), "Agent"
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: u})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func agentReady(a *redflagv1.Agent) (metav1.ConditionStatus, string) {
	if c := meta.FindStatusCondition(a.Status.Conditions, redflagv1.ConditionReady); c != nil {
		return c.Status, c.Reason
	}
	return "", ""
}

const tokenManifest = `
apiVersion: redflag.io/v1alpha1
kind: RegistrationToken
metadata:
  name: web-fleet
spec:
  description: web tier
  ttl: 1h
  maxUses: 5
  agentLabels:
    tier: web
`

// TestTwoHostsEnrollCheckInAndOneFallsSilent is the first slice end to end:
// the real manager binary, two real agent processes, and what kubectl and
// kstatus show.
func TestTwoHostsEnrollCheckInAndOneFallsSilent(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	token := applyToken(t, c, "fleet", tokenManifest)
	web1 := newHost(t, "0123456789abcdef0123456789abcdef")
	web2 := newHost(t, "fedcba9876543210fedcba9876543210")
	for _, h := range []*host{web1, web2} {
		if out := h.register(c, token); !strings.Contains(out, "enrolled as Agent fleet/") {
			t.Fatalf("register said %q", out)
		}
	}
	// Re-running the installer's register step: same Agent, no second seat.
	web1.register(c, token)

	var agents redflagv1.AgentList
	if err := c.env.Client.List(ctx, &agents, client.InNamespace("fleet")); err != nil {
		t.Fatal(err)
	}
	if len(agents.Items) != 2 {
		t.Fatalf("%d Agents after registering two hosts (one twice), want 2", len(agents.Items))
	}
	var tok redflagv1.RegistrationToken
	_ = c.env.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "web-fleet"}, &tok)
	if tok.Status.UsedCount != 2 {
		t.Errorf("token used %d seats, want 2", tok.Status.UsedCount)
	}
	keys := map[*host]client.ObjectKey{}
	for _, a := range agents.Items {
		if a.Labels["tier"] != "web" || a.Labels[redflagv1.LabelOS] == "" {
			t.Errorf("agent %s labels %v: want the token's labels plus OS", a.Name, a.Labels)
		}
		// Check in every 5s, so silence shows within 15s. The controller
		// may be writing the Agent too: retry on conflict, as kubectl edit
		// users do.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var fresh redflagv1.Agent
			if err := c.env.Client.Get(ctx, client.ObjectKeyFromObject(&a), &fresh); err != nil {
				return err
			}
			fresh.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second}
			return c.env.Client.Update(ctx, &fresh)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []*host{web1, web2} {
			if a.Spec.MachineID == h.machineID() {
				keys[h] = client.ObjectKeyFromObject(&a)
			}
		}
	}
	get := func(h *host) *redflagv1.Agent {
		var a redflagv1.Agent
		if err := c.env.Client.Get(ctx, keys[h], &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	daemon1 := web1.run()
	web2.run()
	for _, h := range []*host{web1, web2} {
		eventually(t, 30*time.Second, "the agent to be Current (Ready) with its facts", func() bool {
			a := get(h)
			return kstatusOf(t, a) == status.CurrentStatus && a.Status.FactsHash != "" && len(a.Status.Storage) > 0
		})
		a := get(h)
		if a.Status.OS.Kernel == "" || a.Status.System.MemoryBytes == 0 || a.Status.Hostname == "" {
			t.Errorf("facts missing from status: os=%+v system=%+v hostname=%q", a.Status.OS, a.Status.System, a.Status.Hostname)
		}
	}
	eventually(t, 20*time.Second, "an AgentStarted Event", func() bool { return slices.Contains(eventReasons(t, c, keys[web1]), "AgentStarted") })

	// A second agent process on the same config is refused.
	out, err := web1.command("run").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Errorf("a second agent on the same state dir: err=%v output=%s", err, out)
	}
	if st, err := web1.command("status").CombinedOutput(); err != nil || !strings.Contains(string(st), "last check-in:") {
		t.Errorf("redflag-agent status: %v\n%s", err, st)
	}

	// Power loss on web1: within three intervals (15s, plus the
	// controller's reaction) it shows as silent, while web2 stays Ready.
	daemon1.kill()
	killedAt := time.Now()
	eventually(t, 30*time.Second, "web1 to be shown silent", func() bool {
		s, reason := agentReady(get(web1))
		return s == metav1.ConditionUnknown && reason == "AgentSilent"
	})
	if took := time.Since(killedAt); took > 17*time.Second {
		t.Errorf("silence showed after %s; want within three 5s intervals (plus 2s)", took)
	}
	if s := kstatusOf(t, get(web2)); s != status.CurrentStatus {
		t.Errorf("web2 is %s while web1 is silent, want Current", s)
	}

	// web1 comes back, under the same name.
	web1.run()
	eventually(t, 30*time.Second, "web1 to be Ready again", func() bool { return kstatusOf(t, get(web1)) == status.CurrentStatus })
	var reasons []string
	for _, e := range get(web1).Status.History {
		reasons = append(reasons, e.Reason)
	}
	for _, want := range []string{"AgentRegistered", "AgentStarted", "AgentSilent", "AgentReturned"} {
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
