package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/redflag-io/redflag/test/testenv"
)

// TestSamplesAreAccepted applies every file in config/samples, as a user
// following the docs would.
func TestSamplesAreAccepted(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(), "config", "samples")
	files, err := filepath.Glob(filepath.Join(dir, "redflag_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found in %s: %v", dir, err)
	}
	ns := newNamespace(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &obj.Object); err != nil {
				t.Fatalf("parsing %s: %v", f, err)
			}
			obj.SetNamespace(ns)
			if err := env.Client.Create(context.Background(), obj); err != nil {
				t.Fatalf("the API server refused sample %s: %v", filepath.Base(f), err)
			}
		})
	}
}

// invalidCase is an object the API server must refuse, and the words its
// refusal must contain (the field it names and the reason).
type invalidCase struct {
	name string
	yaml string
	want []string
}

var invalidObjects = []invalidCase{
	// RegistrationToken
	{"token with ttl and expiresAt", `
kind: RegistrationToken
spec: {ttl: 1h, expiresAt: "2030-01-01T00:00:00Z"}`, []string{"spec.ttl", "spec.expiresAt", "at most one"}},
	{"token ttl too short", `
kind: RegistrationToken
spec: {ttl: 10s}`, []string{"spec.ttl", "between 1m and 8760h"}},
	{"token ttl not a duration", `
kind: RegistrationToken
spec: {ttl: tomorrow}`, []string{"spec.ttl"}},
	{"token maxUses zero", `
kind: RegistrationToken
spec: {maxUses: 0}`, []string{"spec.maxUses", "greater than or equal to 1"}},
	{"token reserved label", `
kind: RegistrationToken
spec: {agentLabels: {"redflag.io/os": linux}}`, []string{"spec.agentLabels", "reserved"}},
	{"token invalid label key", `
kind: RegistrationToken
spec: {agentLabels: {"bad key!": x}}`, []string{"spec.agentLabels", "valid Kubernetes label"}},
	// Agent
	{"agent without machineID", `
kind: Agent
spec: {publicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ="}`, []string{"spec.machineID", "Required"}},
	{"agent bad public key", `
kind: Agent
spec: {machineID: abc, publicKey: "not-a-key"}`, []string{"spec.publicKey", "should match"}},
	{"agent check-in interval too short", `
kind: Agent
spec: {machineID: abc, publicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ=", checkInInterval: 1s}`, []string{"spec.checkInInterval", "between 5s and 1h"}},
	{"agent bad desired version", `
kind: Agent
spec: {machineID: abc, publicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ=", desiredVersion: latest}`, []string{"spec.desiredVersion", "should match"}},
	// ScanSchedule
	{"schedule interval too short", `
kind: ScanSchedule
spec: {subsystems: {updates: {interval: 30s}}}`, []string{"spec.subsystems.updates.interval", "between 1m and 168h"}},
	{"schedule refresh bound too short", `
kind: ScanSchedule
spec: {subsystems: {updates: {interval: 1h, refreshListsAfter: 30s}}}`, []string{"spec.subsystems.updates.refreshListsAfter", "0 (never refresh) or between 1m and 168h"}},
	{"schedule refresh bound too long", `
kind: ScanSchedule
spec: {subsystems: {updates: {interval: 1h, refreshListsAfter: 200h}}}`, []string{"spec.subsystems.updates.refreshListsAfter", "0 (never refresh) or between 1m and 168h"}},
	{"schedule refresh bound without unit", `
kind: ScanSchedule
spec: {subsystems: {updates: {interval: 1h, refreshListsAfter: "4"}}}`, []string{"spec.subsystems.updates.refreshListsAfter", "should match"}},
	{"schedule with nothing enabled", `
kind: ScanSchedule
spec: {subsystems: {updates: {interval: 1h, enabled: false}}}`, []string{"spec.subsystems", "at least one subsystem"}},
	{"schedule with no subsystems", `
kind: ScanSchedule
spec: {subsystems: {}}`, []string{"spec.subsystems", "at least one subsystem"}},
	{"schedule splay longer than interval", `
kind: ScanSchedule
spec: {splay: 2h, subsystems: {updates: {interval: 6h}, storage: {interval: 1h}}}`, []string{"spec.splay", "shorter than every subsystem interval"}},
	// AgentUpdate
	{"rollout without targets", `
kind: AgentUpdate
spec: {packages: {scope: All}}`, []string{"spec.selector", "spec.agents"}},
	{"rollout with packages and agentVersion", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, agentVersion: v1.2.3}`, []string{"spec.packages", "spec.agentVersion", "exactly one"}},
	{"rollout with neither packages nor agentVersion", `
kind: AgentUpdate
spec: {agents: [web-01]}`, []string{"spec.packages", "spec.agentVersion", "exactly one"}},
	{"rollout named scope without names", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: Named}}`, []string{"spec.packages.names", "required when scope is Named"}},
	{"rollout names with scope All", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All, names: [openssl]}}`, []string{"spec.packages.names", "not allowed otherwise"}},
	{"rollout maxConcurrent zero", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, strategy: {maxConcurrent: 0}}`, []string{"spec.strategy.maxConcurrent", "from 1 to 250"}},
	{"rollout maxConcurrent 150 percent", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, strategy: {maxConcurrent: "150%"}}`, []string{"spec.strategy.maxConcurrent", "1% to 100%"}},
	{"rollout hostTimeout too short", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, strategy: {hostTimeout: 5s}}`, []string{"spec.strategy.hostTimeout", "between 10s and 24h"}},
	{"rollout hostTimeout too long", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, strategy: {hostTimeout: 25h}}`, []string{"spec.strategy.hostTimeout", "between 10s and 24h"}},
	{"rollout maxFailures negative", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, strategy: {maxFailures: -1}}`, []string{"spec.strategy.maxFailures", "from 0 to 10000"}},
	{"rollout maxFailures not a percentage", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, strategy: {maxFailures: "ten"}}`, []string{"spec.strategy.maxFailures", "percentage"}},
	{"rollout empty window", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, window: {start: "02:00", end: "02:00"}}`, []string{"spec.window", "must differ"}},
	{"rollout window bad time", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, window: {start: "25:00", end: "02:00"}}`, []string{"spec.window.start", "should match"}},
	{"rollout bad weekday", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, window: {days: [Funday], start: "01:00", end: "02:00"}}`, []string{"spec.window.days", "Unsupported value"}},
	{"self-update with reboot", `
kind: AgentUpdate
spec: {agents: [web-01], agentVersion: v1.2.3, reboot: Always}`, []string{"spec.reboot", "Never for an agentVersion rollout"}},
	{"self-update as a dry run", `
kind: AgentUpdate
spec: {agents: [web-01], agentVersion: v1.2.3, dryRun: true}`, []string{"spec.dryRun", "cannot be dry-run"}},
	{"recurring self-update", `
kind: AgentUpdate
spec: {agents: [web-01], agentVersion: v1.2.3, recurrence: {every: 24h}}`, []string{"spec", "recurrence applies to package rollouts only"}},
	{"recurrence too fast", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, recurrence: {every: 5s}}`, []string{"spec.recurrence.every", "between 10s and 8760h"}},
	{"prometheus gate with credentials in the URL", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, prometheusGate: {url: "http://user:secret@prom:9090", query: "ALERTS"}}`, []string{"spec.prometheusGate.url", "should match"}},
	{"agent hold with a space", `
kind: Agent
spec: {machineID: m1, publicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ=", holds: ["open ssl"]}`, []string{"spec.holds", "should match"}},
	{"schedule selector too large", `
kind: ScanSchedule
spec: {selector: {matchExpressions: [` + strings.Repeat(`{key: k, operator: Exists},`, 9) + `]}, subsystems: {updates: {interval: 1h}}}`, []string{"spec.selector", "at most 32 matchLabels and 8 matchExpressions"}},
	{"rollout selector too large", `
kind: AgentUpdate
spec: {selector: {matchExpressions: [` + strings.Repeat(`{key: k, operator: Exists},`, 9) + `]}, packages: {scope: All}}`, []string{"spec.selector", "at most 32 matchLabels and 8 matchExpressions"}},
	{"rollout bad reboot policy", `
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}, reboot: Sometimes}`, []string{"spec.reboot", "Unsupported value"}},
}

// TestInvalidObjectsAreRefused creates each invalid object and expects the
// API server to refuse it with a message that names the field.
func TestInvalidObjectsAreRefused(t *testing.T) {
	ns := newNamespace(t)
	for _, tc := range invalidObjects {
		t.Run(tc.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(tc.yaml), &obj.Object); err != nil {
				t.Fatalf("bad test YAML: %v", err)
			}
			obj.SetAPIVersion("redflag.io/v1alpha1")
			obj.SetNamespace(ns)
			obj.SetName("invalid")
			err := env.Client.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API server accepted an invalid %s", obj.GetKind())
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestMachineIDIsImmutable changes an Agent's machine ID after creation.
func TestMachineIDIsImmutable(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	agent := mustParse(t, `
apiVersion: redflag.io/v1alpha1
kind: Agent
metadata: {name: host-a}
spec: {machineID: first-id, publicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ="}`)
	agent.SetNamespace(ns)
	if err := env.Client.Create(ctx, agent); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(agent.Object, "second-id", "spec", "machineID"); err != nil {
		t.Fatal(err)
	}
	err := env.Client.Update(ctx, agent)
	if err == nil || !strings.Contains(err.Error(), "spec.machineID is immutable") {
		t.Fatalf("changing spec.machineID: want refusal naming the field, got %v", err)
	}
	// Other fields stay changeable.
	fresh := &unstructured.Unstructured{}
	fresh.SetGroupVersionKind(agent.GroupVersionKind())
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(agent), fresh); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(fresh.Object, true, "spec", "paused"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Update(ctx, fresh); err != nil {
		t.Fatalf("pausing an agent was refused: %v", err)
	}
}

func mustParse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatalf("bad test YAML: %v", err)
	}
	return obj
}

// TestStatusRulesAreEnforced writes invalid status through the status
// subresource, as a buggy or forged writer would: the CEL rules on status
// fields refuse it.
func TestStatusRulesAreEnforced(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	agent := mustParse(t, `
apiVersion: redflag.io/v1alpha1
kind: Agent
metadata: {name: host-s}
spec: {machineID: m-1, publicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ="}`)
	agent.SetNamespace(ns)
	if err := env.Client.Create(ctx, agent); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		status string
		want   []string
	}{
		"unknown package manager in byManager": {`{"updates": {"byManager": {"pip": 3}}}`, []string{"status.updates.byManager", "must be package managers"}},
		"history metadata value too long": {`{"history": [{"time": "2026-11-27T00:00:00Z", "type": "Normal", "reason": "AgentStarted", "severity": "info", "component": "agent", "metadata": {"k": "` + strings.Repeat("v", 129) + `"}}]}`,
			[]string{"status.history[0].metadata", "at most 63 and values at most 128"}},
	} {
		t.Run(name, func(t *testing.T) {
			patch := []byte(`{"status": ` + tc.status + `}`)
			err := env.Client.Status().Patch(ctx, agent, client.RawPatch("application/merge-patch+json", patch))
			if err == nil {
				t.Fatal("the API server accepted an invalid status")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestHostTimeoutDefault: a rollout without strategy.hostTimeout gets 30m
// from the API server, which is what the controller assumes when unset.
func TestHostTimeoutDefault(t *testing.T) {
	obj := mustParse(t, `
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
spec: {agents: [web-01], packages: {scope: All}}`)
	obj.SetNamespace(newNamespace(t))
	obj.SetName("defaulted")
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	got, _, _ := unstructured.NestedString(obj.Object, "spec", "strategy", "hostTimeout")
	if got != "30m" {
		t.Errorf("hostTimeout defaulted to %q, want 30m", got)
	}
}

// TestRefreshListsAfterDefaultAndNever: an updates schedule without the
// bound gets 4h from the API server, and 0s (never) is accepted.
func TestRefreshListsAfterDefaultAndNever(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	for name, want := range map[string]string{"defaulted": "4h", "never": "0s"} {
		doc := `
apiVersion: redflag.io/v1alpha1
kind: ScanSchedule
spec: {subsystems: {updates: {interval: 1h}}}`
		if name == "never" {
			doc = strings.Replace(doc, "interval: 1h", "interval: 1h, refreshListsAfter: 0s", 1)
		}
		obj := mustParse(t, doc)
		obj.SetNamespace(ns)
		obj.SetName(name)
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, _, _ := unstructured.NestedString(obj.Object, "spec", "subsystems", "updates", "refreshListsAfter")
		if got != want {
			t.Errorf("%s: refreshListsAfter %q, want %q", name, got, want)
		}
	}
}
