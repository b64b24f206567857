//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan/apt"
	"github.com/redflag-io/redflag/agent/internal/scanrun"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/apttest"
)

// TestScanOnceInAptSandbox runs the built agent against an apt sandbox
// (APT_CONFIG in its environment, nothing else): it must report exactly
// the sandbox's pending packages, none of the host's, with no config,
// enrollment or lock anywhere.
func TestScanOnceInAptSandbox(t *testing.T) {
	agentBinary(t) // build before the sandbox, so a build failure shows first
	sb := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{
			{Name: "redflag-plain", Version: "1.0"},
			{Name: "redflag-sec", Version: "1.0"},
			{Name: "redflag-current", Version: "1.0"},
		},
		Repos: []apttest.Repo{
			{Packages: []apttest.Package{{Name: "redflag-plain", Version: "2.0"}, {Name: "redflag-current", Version: "1.0"}}},
			{Suite: "redflag-security", Packages: []apttest.Package{{Name: "redflag-sec", Version: "1.1"}}},
		},
	})
	// No config or state may be needed: point both at nothing.
	env := append(sb.Env(), "REDFLAG_CONFIG="+filepath.Join(t.TempDir(), "absent.json"),
		"REDFLAG_STATE_DIR="+filepath.Join(t.TempDir(), "absent"))

	t.Run("json lists the sandbox, not the host", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, env, "scan", "--once", "--json", "--subsystem", "updates")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		res := decodeReport(t, stdout).Results[0]
		var aptOut *scanrun.Outcome
		for i := range res.Outcomes {
			if res.Outcomes[i].Name == "apt" {
				aptOut = &res.Outcomes[i]
			}
		}
		if aptOut == nil || !aptOut.Present || aptOut.Result != protocol.RunSucceeded {
			t.Fatalf("apt outcome %+v", aptOut)
		}
		want := []protocol.PendingUpdate{
			{Manager: "apt", Name: "redflag-sec", CurrentVersion: "1.0", AvailableVersion: "1.1", Security: true, Source: "redflag-security"},
			{Manager: "apt", Name: "redflag-plain", CurrentVersion: "1.0", AvailableVersion: "2.0", Source: "redflag-test"},
		}
		got := aptItems(res.Updates.Items)
		if !slices.Equal(got, want) {
			t.Fatalf("apt items:\n got %+v\nwant %+v", got, want)
		}
		if res.Updates.ByManager["apt"] != 2 || res.Updates.Truncated || res.Hash == "" {
			t.Fatalf("inventory %+v, hash %q", res.Updates, res.Hash)
		}
		host := hostPending(t)
		for _, u := range got {
			if slices.Contains(host, u.Name) {
				t.Fatalf("%s is one of the host's own pending packages", u.Name)
			}
		}
		t.Logf("host has %d pending apt packages; none leaked into the sandbox scan", len(host))
	})

	t.Run("json round-trips into the Go type", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, env, "scan", "--once", "--json", "--subsystem", "all")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		report := decodeReport(t, stdout)
		if len(report.Results) != len(scanrun.All()) {
			t.Fatalf("%d results for --subsystem all", len(report.Results))
		}
		var again bytes.Buffer
		enc := json.NewEncoder(&again)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			t.Fatal(err)
		}
		if again.String() != stdout {
			t.Fatalf("re-encoded report differs from the agent's output:\n%s\n---\n%s", stdout, again.String())
		}
	})

	t.Run("table", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, env, "scan", "--once", "--subsystem", "updates")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		for _, want := range []string{
			"updates: Succeeded",
			"MANAGER", "CURRENT → AVAILABLE",
			"redflag-sec", "1.0 → 1.1", "security",
			"redflag-plain", "1.0 → 2.0",
			"summary: 2 pending update(s), 1 security (apt 2)",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Index(stdout, "redflag-sec") > strings.Index(stdout, "redflag-plain") {
			t.Errorf("security update not listed first:\n%s", stdout)
		}
	})
}

// TestScanOnceExitCode: 1 only when every present scanner failed; a host
// without any package manager has nothing to fail.
func TestScanOnceExitCode(t *testing.T) {
	agentBinary(t)
	broken := t.TempDir()
	script := "#!/bin/sh\necho 'E: Could not open lock file' >&2\nexit 100\n"
	if err := os.WriteFile(filepath.Join(broken, "apt"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		code   int
		stdout string
	}{
		{"the only manager fails", broken, 1, "Could not open lock file"},
		{"no manager installed", t.TempDir(), 0, "apt not installed, dnf not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runAgent(t, []string{"PATH=" + tt.path}, "scan", "--once", "--subsystem", "updates")
			if code != tt.code || !strings.Contains(stdout, tt.stdout) {
				t.Fatalf("exit %d, want %d; stdout lacks %q?\n%s%s", code, tt.code, tt.stdout, stdout, stderr)
			}
		})
	}
}

// decodeReport reads the agent's JSON, refusing fields the Go type lacks.
func decodeReport(t *testing.T, out string) scanrun.Report {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var r scanrun.Report
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decoding the agent's JSON: %v\n%s", err, out)
	}
	return r
}

func aptItems(items []protocol.PendingUpdate) []protocol.PendingUpdate {
	var out []protocol.PendingUpdate
	for _, u := range items {
		if u.Manager == protocol.ManagerApt {
			out = append(out, u)
		}
	}
	return out
}

// hostPending lists the host's own upgradable apt packages, asked without
// any APT_CONFIG, so the test can show none of them leaked in.
func hostPending(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "APT_CONFIG=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command("apt", "list", "--upgradable")
	cmd.Env = append(env, "LANG=C", "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Logf("host apt list: %v (no host packages to compare)", err)
		return nil
	}
	updates, _ := apt.Parse(bytes.NewReader(out))
	names := make([]string, 0, len(updates))
	for _, u := range updates {
		names = append(names, u.Name)
	}
	return names
}
