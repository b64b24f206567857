package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
	"github.com/redflag-io/redflag/test/testenv"
)

// buildAgentVersion builds the agent stamped with a version.
func buildAgentVersion(t *testing.T, dir, ver string) string {
	t.Helper()
	out := filepath.Join(dir, "redflag-agent-"+ver)
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/redflag-io/redflag/internal/version.Version="+ver, "-o", out, "./agent/cmd/redflag-agent")
	cmd.Dir = testenv.RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building agent %s: %v\n%s", ver, err, b)
	}
	return out
}

// releaseStore publishes the releases the test needs with a fresh key:
// v1.1.0 (a good build), v1.2.0 (a build that exits at start), v0.9.0 (a
// downgrade), v1.3.0 (signed for another platform), v1.4.0 (its binary
// changed after signing) and v1.5.0 (a build that appends a line to
// trialLog when started, never checks in and exits after 4 s).
func releaseStore(t *testing.T, good, trialLog string) (dir string, pub ed25519.PublicKey) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir, work := t.TempDir(), t.TempDir()
	publish := func(ver, bin string) {
		t.Helper()
		if _, err := release.Publish(release.PublishOptions{Dir: dir, Binary: bin, Version: ver, OS: runtime.GOOS, Arch: runtime.GOARCH, Key: key}); err != nil {
			t.Fatalf("publishing %s: %v", ver, err)
		}
	}
	publish("v1.1.0", good)
	broken := filepath.Join(work, "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho this build is broken >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	publish("v1.2.0", broken)
	slow := filepath.Join(work, "slow")
	if err := os.WriteFile(slow, fmt.Appendf(nil, "#!/bin/sh\necho started >> %s\nsleep 4\necho this build never checks in >&2\nexit 3\n", trialLog), 0o755); err != nil {
		t.Fatal(err)
	}
	publish("v1.5.0", slow)
	publish("v0.9.0", good)
	publish("v1.4.0", good)
	bin := filepath.Join(dir, "v1.4.0", release.Platform(runtime.GOOS, runtime.GOARCH), release.BinaryName(runtime.GOOS))
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(bin, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// v1.3.0: a valid signature over a manifest for another platform,
	// placed where this platform's release would be.
	publish("v1.3.0", good)
	other := "windows"
	if runtime.GOOS == "windows" {
		other = "linux"
	}
	m, err := release.Verify(mustRead(t, filepath.Join(dir, "v1.3.0", release.Platform(runtime.GOOS, runtime.GOARCH), protocol.ReleaseManifestFile)), pub)
	if err != nil {
		t.Fatal(err)
	}
	m.OS, m.File = other, release.BinaryName(other)
	signed, err := release.Sign(m, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "v1.3.0", release.Platform(runtime.GOOS, runtime.GOARCH), protocol.ReleaseManifestFile), signed, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, pub
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAgentSelfUpdate: the built agent (v1.0.0) moves to a signed v1.1.0
// through an AgentUpdate and reports it; a broken v1.2.0 that exits at
// start is rolled back by the supervisor and reported as RolledBack; a
// downgrade, an artifact for another platform and a tampered one are
// refused and reported, and the agent keeps running v1.1.0 throughout;
// last, the agent is killed while v1.5.0 is on trial (killedOnTrial).
func TestAgentSelfUpdate(t *testing.T) {
	bins := t.TempDir()
	v1 := buildAgentVersion(t, bins, "v1.0.0")
	good := buildAgentVersion(t, bins, "v1.1.0")
	trialLog := filepath.Join(bins, "v1.5.0-started")
	store, pub := releaseStore(t, good, trialLog)
	c := startCluster(t, "--release-dir", store)
	ctx := context.Background()
	token := applyToken(t, c, "selfupdate", tokenManifest)

	h := newHost(t, "5e1f0000000000000000000000000001")
	// The host's own copy: a self-update replaces it in place.
	h.bin = filepath.Join(h.dir, "redflag-agent")
	if err := os.WriteFile(h.bin, mustRead(t, v1), 0o755); err != nil {
		t.Fatal(err)
	}
	h.env = append(h.env, "REDFLAG_UPDATE_CONFIRM_TIMEOUT=30s")
	out, err := h.command("register", "--server", c.gatewayURL, "--token", token, "--ca-file", c.caFile,
		"--release-key", base64.StdEncoding.EncodeToString(pub)).CombinedOutput()
	if err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	key := theOnlyAgent(t, c, "selfupdate")
	agent := func() *redflagv1.Agent {
		var a redflagv1.Agent
		if err := c.env.Client.Get(ctx, key, &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	proc := h.run()
	eventually(t, 60*time.Second, "the agent to report v1.0.0", func() bool { return agent().Status.AgentVersion == "v1.0.0" })

	// startRollout applies an agentVersion AgentUpdate for this host;
	// waitRollout waits for it to end; rollout does both.
	startRollout := func(name, ver string) {
		t.Helper()
		applyYAML(t, c, "selfupdate", fmt.Sprintf(`
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
metadata:
  name: %s
spec:
  agents: [%s]
  agentVersion: %s
`, name, key.Name, ver))
	}
	waitRollout := func(name string) *redflagv1.AgentUpdate {
		t.Helper()
		var au redflagv1.AgentUpdate
		eventually(t, 120*time.Second, name+" to end", func() bool {
			if proc.exited() {
				t.Fatalf("the agent's supervisor exited:\n%s", tail(proc.out.String(), 4000))
			}
			if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: "selfupdate", Name: name}, &au); err != nil {
				t.Fatal(err)
			}
			return au.Status.Phase == redflagv1.RolloutSucceeded || au.Status.Phase == redflagv1.RolloutHalted
		})
		return &au
	}
	rollout := func(name, ver string) *redflagv1.AgentUpdate {
		t.Helper()
		startRollout(name, ver)
		return waitRollout(name)
	}

	// A good release: installed, restarted into, confirmed.
	au := rollout("to-1-1", "v1.1.0")
	if au.Status.Phase != redflagv1.RolloutSucceeded {
		t.Fatalf("to-1-1 ended %s: %+v", au.Status.Phase, agent().Status.CurrentWork)
	}
	eventually(t, 30*time.Second, "the Agent to show v1.1.0", func() bool { return agent().Status.AgentVersion == "v1.1.0" })
	a := agent()
	if w := a.Status.CurrentWork; w == nil || w.Phase != redflagv1.WorkSucceeded || w.FromVersion != "v1.0.0" || w.ToVersion != "v1.1.0" {
		t.Fatalf("currentWork %+v: want Succeeded v1.0.0 -> v1.1.0", w)
	}
	if a.Spec.DesiredVersion != "v1.1.0" {
		t.Errorf("spec.desiredVersion %q, want v1.1.0", a.Spec.DesiredVersion)
	}
	eventually(t, 20*time.Second, "UpToDate=True", func() bool {
		c := meta.FindStatusCondition(agent().Status.Conditions, redflagv1.ConditionUpToDate)
		return c != nil && c.Status == metav1.ConditionTrue
	})
	if got := mustRead(t, h.bin); !slices.Equal(got, mustRead(t, good)) {
		t.Error("the host's binary is not the v1.1.0 build")
	}
	selfUpdateAudit(t, c, a, "to-1-1")

	// A build that exits at start: the supervisor puts v1.1.0 back.
	au = rollout("to-1-2", "v1.2.0")
	a = agent()
	if au.Status.Phase != redflagv1.RolloutHalted || a.Status.CurrentWork == nil || a.Status.CurrentWork.Phase != redflagv1.WorkRolledBack {
		t.Fatalf("to-1-2: phase %s, currentWork %+v: want Halted and RolledBack", au.Status.Phase, a.Status.CurrentWork)
	}
	if f := au.Status.Failures; len(f) != 1 || f[0].Reason != "RolledBack" {
		t.Errorf("to-1-2 failures %+v: want the host shown as RolledBack", f)
	}
	if got := mustRead(t, h.bin); !slices.Equal(got, mustRead(t, good)) {
		t.Error("after the rollback the host's binary is not the v1.1.0 build")
	}
	eventually(t, 30*time.Second, "the agent to keep checking in as v1.1.0", func() bool {
		a := agent()
		return a.Status.AgentVersion == "v1.1.0" && a.Status.LastSeen != nil && time.Since(a.Status.LastSeen.Time) < time.Minute
	})
	if !slices.Contains(eventReasons(t, c, key), "AgentRolledBack") {
		t.Errorf("Events %v: want AgentRolledBack", eventReasons(t, c, key))
	}

	// Refusals: nothing is installed, the reason is reported.
	for _, tc := range []struct{ name, version, reason string }{
		{"to-0-9", "v0.9.0", "Downgrade"},
		{"to-1-3", "v1.3.0", "WrongPlatform"},
		{"to-1-4", "v1.4.0", "ChecksumMismatch"},
	} {
		au := rollout(tc.name, tc.version)
		w := agent().Status.CurrentWork
		if au.Status.Phase != redflagv1.RolloutHalted || w == nil || w.Phase != redflagv1.WorkFailed || w.Reason != tc.reason {
			t.Errorf("%s: phase %s, currentWork %+v: want Halted and Failed with %s", tc.name, au.Status.Phase, w, tc.reason)
		}
		if got := mustRead(t, h.bin); !slices.Equal(got, mustRead(t, good)) {
			t.Errorf("%s changed the host's binary", tc.name)
		}
	}

	killedOnTrial(t, c, h, key, &proc, startRollout, waitRollout, trialLog, good)
	eventually(t, 30*time.Second, "the agent to check in as v1.1.0 after the rollback", func() bool {
		a := agent()
		return a.Status.AgentVersion == "v1.1.0" && a.Status.LastSeen != nil && time.Since(a.Status.LastSeen.Time) < 10*time.Second
	})
}

// killedOnTrial: v1.5.0 is installed and started on trial, and the whole
// agent (supervisor and the new daemon) is killed with SIGKILL while it
// runs, as a power cut or `systemctl kill` would. On disk the update is
// whole (the record says Trial) and the path the service manager starts
// still holds v1.1.0, with v1.5.0 staged beside it. Started again, v1.1.0
// resumes the trial once; v1.5.0 never checks in, so it is rolled back
// and the result is reported exactly once: the rollout halts with the
// host RolledBack. The restarted agent replaces *proc.
func killedOnTrial(t *testing.T, c *cluster, h *host, key client.ObjectKey, proc **process,
	startRollout func(name, ver string), waitRollout func(name string) *redflagv1.AgentUpdate, trialLog, good string) {
	t.Helper()
	ctx := context.Background()
	startRollout("to-1-5", "v1.5.0")
	eventually(t, 60*time.Second, "v1.5.0 to start on trial", func() bool { return fileLines(trialLog) == 1 })
	killed := descendants((*proc).cmd.Process.Pid)
	for _, pid := range killed {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	(*proc).kill()
	t.Logf("killed the supervisor and its processes %v", killed)

	// The record's fields as agent/internal/selfupdate writes them.
	var rec struct {
		WorkID      string `json:"workID"`
		FromVersion string `json:"fromVersion"`
		ToVersion   string `json:"toVersion"`
		State       string `json:"state"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(h.stateDir, "selfupdate.json")), &rec); err != nil {
		t.Fatalf("the self-update record after the kill: %v", err)
	}
	if rec.State != "Trial" || rec.ToVersion != "v1.5.0" || rec.FromVersion != "v1.1.0" {
		t.Fatalf("the record after the kill: %+v, want v1.1.0 -> v1.5.0 on Trial", rec)
	}
	if !slices.Equal(mustRead(t, h.bin), mustRead(t, good)) {
		t.Fatal("after the kill the binary the service manager starts is not v1.1.0")
	}
	if _, err := os.Stat(h.bin + ".next"); err != nil {
		t.Errorf("v1.5.0 is not staged beside the binary: %v", err)
	}
	if _, err := h.status(); err != nil {
		t.Errorf("the state after the kill: %v", err)
	}

	*proc = h.run()
	au := waitRollout("to-1-5")
	var a redflagv1.Agent
	if err := c.env.Client.Get(ctx, key, &a); err != nil {
		t.Fatal(err)
	}
	w := a.Status.CurrentWork
	if au.Status.Phase != redflagv1.RolloutHalted || w == nil || w.ID != rec.WorkID || w.Phase != redflagv1.WorkRolledBack || w.ToVersion != "v1.5.0" {
		t.Fatalf("to-1-5: phase %s, currentWork %+v: want Halted and %s RolledBack", au.Status.Phase, w, rec.WorkID)
	}
	if f := au.Status.Failures; len(f) != 1 || f[0].Reason != "RolledBack" {
		t.Errorf("to-1-5 failures %+v: want the host shown as RolledBack", f)
	}
	if n := fileLines(trialLog); n != 2 {
		t.Errorf("v1.5.0 was started %d times, want twice (the killed trial and its one resumption)", n)
	}
	if !slices.Equal(mustRead(t, h.bin), mustRead(t, good)) {
		t.Error("after the rollback the host's binary is not v1.1.0")
	}
	if _, err := os.Stat(h.bin + ".next"); !os.IsNotExist(err) {
		t.Errorf("the staged v1.5.0 is still there after the rollback: %v", err)
	}
	// One AgentRolledBack before (v1.2.0) and one for this update.
	if n := historyCount(&a, "AgentRolledBack"); n != 2 {
		t.Errorf("%d AgentRolledBack history entries, want 2 (v1.2.0 and v1.5.0)", n)
	}
	if n := eventOccurrences(t, c, key, "AgentRolledBack"); n != 2 {
		t.Errorf("AgentRolledBack recorded %d times as an Event, want 2", n)
	}
}

// fileLines counts the lines of a file (0 when it does not exist).
func fileLines(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte("\n"))
}

// selfUpdateAudit checks the audit trail a good self-update leaves: the
// AgentUpdateStarted and AgentUpdated lines on the manager's log carry the
// old and new version and the host's platform, and the Agent's
// completedWork record keeps the versions.
func selfUpdateAudit(t *testing.T, c *cluster, a *redflagv1.Agent, rollout string) {
	t.Helper()
	platform := a.Status.OS.Family + "/" + a.Status.OS.Arch
	if a.Status.OS.Family == "" || a.Status.OS.Arch == "" {
		t.Fatalf("the Agent's OS %+v has no family or arch", a.Status.OS)
	}
	for _, reason := range []string{"AgentUpdateStarted", "AgentUpdated"} {
		var line events.AuditLine
		eventually(t, 10*time.Second, reason+"'s audit line", func() bool {
			i := slices.IndexFunc(auditLines(t, c.manager.out.String()), func(l events.AuditLine) bool {
				return l.Reason == reason && l.Object.Name == a.Name && l.Metadata["agentUpdate"] == rollout
			})
			if i >= 0 {
				line = auditLines(t, c.manager.out.String())[i]
			}
			return i >= 0
		})
		if m := line.Metadata; m["oldVersion"] != "v1.0.0" || m["newVersion"] != "v1.1.0" || m["platform"] != platform {
			t.Errorf("%s line metadata %v: want v1.0.0 -> v1.1.0 on %s", reason, m, platform)
		}
	}
	i := slices.IndexFunc(a.Status.CompletedWork, func(r redflagv1.WorkRecord) bool { return r.AgentUpdate == rollout })
	if i < 0 || a.Status.CompletedWork[i].FromVersion != "v1.0.0" || a.Status.CompletedWork[i].ToVersion != "v1.1.0" {
		t.Errorf("completedWork %+v: want %s recorded v1.0.0 -> v1.1.0", a.Status.CompletedWork, rollout)
	}
}
