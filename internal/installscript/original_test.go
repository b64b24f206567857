package installscript

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/packaging"
)

// The original RedFlag agent's files as its installer leaves them
// (testdata/original/README.md says where each comes from).
var originalLayout = map[string]string{
	"/etc/redflag/config.json":                  "testdata/original/config.json",
	"/etc/systemd/system/redflag-agent.service": "testdata/original/redflag-agent.service",
	"/etc/sudoers.d/redflag-agent":              "testdata/original/sudoers",
}

const originalBinary = "#!/bin/sh\n# the original RedFlag agent\nexit 0\n"

// layOriginal installs the recorded original agent in the sandbox, its
// service running.
func layOriginal(t *testing.T, sb *sandbox) {
	t.Helper()
	for to, from := range originalLayout {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(sb.path(to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sb.path(to), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(sb.path("/usr/local/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeExecutable(t, sb.path("/usr/local/bin/redflag-agent"), originalBinary)
	if err := os.WriteFile(sb.unitState, []byte("active\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(sb *sandbox, p string) bool {
	_, err := os.Stat(sb.path(p))
	return err == nil
}

// TestTakesOverTheOriginalAgent: on a host running the original RedFlag
// agent, install.sh stops and disables its service, keeps every file of it
// in a backup, hands its config to registration (which migrates proxy,
// labels and key: agent/internal/config tests that file), enrolls, and
// removes the original's files; running it again changes nothing.
func TestTakesOverTheOriginalAgent(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) { testTakesOverTheOriginalAgent(t, shell) })
	}
}

func testTakesOverTheOriginalAgent(t *testing.T, shell string) {
	rs := newReleaseServer(t)
	sb := newSandbox(t, shell, rs, testKey(t))
	rs.publish("v1", fakeAgent("v1", sb.log), true, false)
	layOriginal(t, sb)
	recorded, err := os.ReadFile("testdata/original/config.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0

	out, err := sb.run("--token", "abcdef.0123456789abcdef")
	if err != nil {
		t.Fatalf("take-over: %v\n%s", err, out)
	}
	if !strings.Contains(out, "found the original RedFlag agent") {
		t.Errorf("the original agent was not reported:\n%s", out)
	}
	calls := sb.calls(&seen)
	// Its service is stopped and disabled before anything of ours is
	// registered, then ours is enabled and started under the same name.
	assertSystemctl(t, calls, []string{"is-active", "stop", "disable", "is-active", "daemon-reload", "enable", "restart"})
	reg := slices.IndexFunc(calls, func(c string) bool { return strings.Contains(c, " register ") })
	disable := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "systemctl disable ") })
	if reg < 0 || disable < 0 || disable > reg {
		t.Errorf("want disable (call %d) before register (call %d):\n%s", disable, reg, strings.Join(calls, "\n"))
	}
	// Registration was handed the original's config, byte for byte.
	if got := sb.read("/etc/redflag/agent.json.seen-by-register"); !bytes.Equal(got, recorded) {
		t.Errorf("register was handed\n%s\nwant the original config", got)
	}
	if got := sb.read("/etc/systemd/system/redflag-agent.service"); string(got) != packaging.SystemdUnit {
		t.Error("the unit is not ours after the take-over")
	}
	for _, p := range []string{"/usr/local/bin/redflag-agent", "/etc/redflag/config.json", "/etc/sudoers.d/redflag-agent"} {
		if exists(sb, p) {
			t.Errorf("%s is still there after the take-over", p)
		}
	}
	// The backup holds every file of the original and says where it was.
	dirs, _ := filepath.Glob(sb.path("/var/lib/redflag/original-agent.*"))
	if len(dirs) != 1 {
		t.Fatalf("backup directories %v, want one", dirs)
	}
	if fi, err := os.Stat(dirs[0]); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory mode: %v %v, want 0700", fi.Mode().Perm(), err)
	}
	for name, from := range map[string]string{
		"config.json": "testdata/original/config.json", "redflag-agent.service": "testdata/original/redflag-agent.service",
		"sudoers": "testdata/original/sudoers",
	} {
		want, _ := os.ReadFile(from)
		if got, err := os.ReadFile(filepath.Join(dirs[0], name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("backup %s: %v, differs from the original: %v", name, err, !bytes.Equal(got, want))
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dirs[0], "redflag-agent")); string(got) != originalBinary {
		t.Error("the original binary is not in the backup")
	}
	paths, _ := os.ReadFile(filepath.Join(dirs[0], "paths"))
	for _, p := range []string{"/etc/redflag/config.json", "/usr/local/bin/redflag-agent", "/etc/sudoers.d/redflag-agent", "/etc/systemd/system/redflag-agent.service"} {
		if !strings.Contains(string(paths), sb.path(p)) {
			t.Errorf("the backup's paths file does not name %s:\n%s", p, paths)
		}
	}
	enrolled := sb.read("/etc/redflag/agent.json")

	// Again: nothing left to take over, nothing registered, nothing changed.
	out, err = sb.run()
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	if strings.Contains(out, "original") {
		t.Errorf("the re-run still found an original agent:\n%s", out)
	}
	assertSystemctl(t, sb.calls(&seen), []string{"daemon-reload", "enable", "start"})
	if got := sb.read("/etc/redflag/agent.json"); !bytes.Equal(got, enrolled) {
		t.Error("the re-run changed the config")
	}
	if again, _ := filepath.Glob(sb.path("/var/lib/redflag/original-agent.*")); len(again) != 1 {
		t.Errorf("backup directories after the re-run: %v", again)
	}
}

// TestOriginalAgentKeptWhenEnrollingFails: a refused token leaves the host
// with the original agent running as before: its unit back, enabled and
// started, and its files in place.
func TestOriginalAgentKeptWhenEnrollingFails(t *testing.T) {
	shell := shells(t)[0]
	rs := newReleaseServer(t)
	sb := newSandbox(t, shell, rs, testKey(t))
	rs.publish("v1", fakeAgent("v1", sb.log), true, false)
	layOriginal(t, sb)
	seen := 0
	out, err := sb.run("--token", "refused.0123456789abcdef")
	if err == nil || !strings.Contains(out, "registration failed") {
		t.Fatalf("err %v, want the registration to fail:\n%s", err, out)
	}
	calls := sb.calls(&seen)
	assertSystemctl(t, calls, []string{"is-active", "stop", "disable", "is-active", "daemon-reload", "daemon-reload", "enable", "start"})
	unit, _ := os.ReadFile("testdata/original/redflag-agent.service")
	if got := sb.read("/etc/systemd/system/redflag-agent.service"); !bytes.Equal(got, unit) {
		t.Error("the original unit was not put back")
	}
	if state, _ := os.ReadFile(sb.unitState); strings.TrimSpace(string(state)) != "active" {
		t.Errorf("the original service is %q, want active", state)
	}
	for p := range originalLayout {
		if !exists(sb, p) {
			t.Errorf("%s is gone after a failed take-over", p)
		}
	}
	if !exists(sb, "/usr/local/bin/redflag-agent") {
		t.Error("the original binary is gone after a failed take-over")
	}
}
