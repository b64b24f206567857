package packagetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/redflag-io/redflag/packaging"
)

// testVersion is stamped into the binary and the packages.
const testVersion = "v1.2.3-test.1"

// repoRoot is the module root: nfpm reads packaging/ relative to it.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(data, []byte("module github.com/redflag-io/redflag\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/redflag-io/redflag above the test's directory")
		}
		dir = parent
	}
}

// run runs name in dir with env added to this process's environment and
// returns its combined output.
func run(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func command(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := run(dir, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	buildOnce sync.Once
	built     struct{ deb, rpm, binary string }
	buildErr  error
	buildDir  string
)

// packages builds the agent and both packages once for all tests, the way
// make packages does.
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	if testing.Short() {
		t.Skip("building the agent and its packages is not short")
	}
	buildOnce.Do(func() { buildErr = buildPackages(repoRoot(t)) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built.deb, built.rpm
}

// buildPackages builds the agent into a temporary directory and packs it
// with the nfpm that hack/tool.sh builds from hack/tools/go.mod.
func buildPackages(root string) error {
	dir, err := os.MkdirTemp("", "redflag-packages-")
	if err != nil {
		return err
	}
	buildDir = dir
	built.binary = filepath.Join(dir, "redflag-agent")
	if _, err := run(root, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath",
		"-ldflags", "-X github.com/redflag-io/redflag/internal/version.Version="+testVersion,
		"-o", built.binary, "./agent/cmd/redflag-agent"); err != nil {
		return err
	}
	nfpm, err := run(root, nil, filepath.Join(root, "hack/tool.sh"), "nfpm")
	if err != nil {
		return err
	}
	// tool.sh prints progress on stderr the first time; the path is last.
	lines := strings.Split(strings.TrimSpace(nfpm), "\n")
	nfpm = lines[len(lines)-1]
	env := []string{"REDFLAG_AGENT_BINARY=" + built.binary, "REDFLAG_VERSION=" + testVersion, "REDFLAG_ARCH=amd64"}
	for _, p := range []string{"deb", "rpm"} {
		if _, err := run(root, env, nfpm, "package", "--config", "packaging/nfpm.yaml", "--packager", p, "--target", dir+"/"); err != nil {
			return err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dir, "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		return fmt.Errorf("nfpm made %v and %v, want one .deb and one .rpm", debs, rpms)
	}
	built.deb, built.rpm = debs[0], rpms[0]
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// wantFiles are the package's own paths and modes; the parent directories
// the .deb also lists are not checked.
var wantFiles = map[string]string{
	"/usr/bin/redflag-agent":                        "-rwxr-xr-x",
	"/usr/lib/systemd/system/redflag-agent.service": "-rw-r--r--",
	"/etc/redflag":                                  "drwx------",
	"/var/lib/redflag":                              "drwx------",
}

// TestDebContents lists the .deb as dpkg sees it.
func TestDebContents(t *testing.T) {
	deb, _ := packages(t)
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatal("dpkg-deb is not installed (Debian package dpkg)")
	}
	listing := command(t, "", nil, "dpkg-deb", "-c", deb)
	// drwx------ root/root  0 2026-01-01 00:00 ./etc/redflag/
	line := regexp.MustCompile(`^(\S{10}) root/root +\d+ \S+ \S+ \.(/\S*?)/?$`)
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(listing), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			got[m[2]] = m[1]
		} else {
			t.Errorf("unexpected line in dpkg-deb -c: %q", l)
		}
	}
	for path, mode := range wantFiles {
		if got[path] != mode {
			t.Errorf("%s: mode %q, want %q (listing:\n%s)", path, got[path], mode, listing)
		}
	}
	info := command(t, "", nil, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture")
	if want := "Package: redflag-agent\nVersion: 1.2.3~test.1\nArchitecture: amd64\n"; info != want {
		t.Errorf("control fields:\n%s\nwant\n%s", info, want)
	}
}

// TestDebInstallsIntoSandbox installs the .deb with dpkg into a sandbox
// root (its maintainer scripts run outside a chroot, with DPKG_ROOT set,
// and leave the host's systemd alone), runs the installed binary, then
// removes the package and checks that the host's identity stays.
func TestDebInstallsIntoSandbox(t *testing.T) {
	deb, _ := packages(t)
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatal("dpkg is not installed")
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/info"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg := func(args ...string) string {
		return command(t, "", nil, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-not-root", "--log=/dev/null"}, args...)...)
	}
	dpkg("-i", deb)

	out := command(t, "", nil, filepath.Join(root, "usr/bin/redflag-agent"), "version")
	if !strings.HasPrefix(out, testVersion+" ") {
		t.Errorf("installed binary says %q, want version %s", out, testVersion)
	}
	unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/redflag-agent.service"))
	if err != nil || string(unit) != packaging.SystemdUnit {
		t.Errorf("installed unit differs from packaging/systemd/redflag-agent.service (%v)", err)
	}
	for path, mode := range wantFiles {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode().String() != mode {
			t.Errorf("installed %s: mode %s, want %s", path, fi.Mode(), mode)
		}
	}
	if status := dpkg("-s", "redflag-agent"); !strings.Contains(status, "Status: install ok installed") {
		t.Errorf("dpkg -s:\n%s", status)
	}

	// Enrollment writes the config; removing the package keeps it.
	config := filepath.Join(root, "etc/redflag/agent.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dpkg("-r", "redflag-agent")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/redflag-agent")); !os.IsNotExist(err) {
		t.Errorf("binary still there after dpkg -r: %v", err)
	}
	if _, err := os.Stat(config); err != nil {
		t.Errorf("the config did not survive removal: %v", err)
	}
}

// TestRPM lists the .rpm with rpm when it is installed (modes included)
// and installs it into a sandbox root without its scriptlets (rpm runs
// them chrooted, and the sandbox has no /bin/sh); without rpm it checks
// the lead and header magic numbers only.
func TestRPM(t *testing.T) {
	_, rpmFile := packages(t)
	data, err := os.ReadFile(rpmFile)
	if err != nil {
		t.Fatal(err)
	}
	// The 96-byte lead starts with ed ab ee db; the signature header that
	// follows starts with the header magic 8e ad e8.
	if len(data) < 1024 || !bytes.HasPrefix(data, []byte{0xed, 0xab, 0xee, 0xdb}) || !bytes.HasPrefix(data[96:], []byte{0x8e, 0xad, 0xe8}) {
		t.Fatalf("%s is not an rpm (%d bytes)", rpmFile, len(data))
	}
	if !strings.HasSuffix(rpmFile, "redflag-agent-1.2.3~test.1-1.x86_64.rpm") {
		t.Errorf("rpm named %s", filepath.Base(rpmFile))
	}
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Fatal("rpm is not installed: run make test-deps")
	}
	listing := command(t, "", nil, "rpm", "-qlpv", rpmFile)
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(l)
		if len(f) < 9 {
			continue // rpm's warnings on Debian
		}
		got[f[len(f)-1]] = f[0]
	}
	for path, mode := range wantFiles {
		if got[path] != mode {
			t.Errorf("%s: mode %q, want %q (listing:\n%s)", path, got[path], mode, listing)
		}
	}
	if len(got) != len(wantFiles) {
		t.Errorf("rpm owns %d paths, want exactly %d (no shared parent directories):\n%s", len(got), len(wantFiles), listing)
	}
	scripts := command(t, "", nil, "rpm", "-qp", "--scripts", rpmFile)
	for _, want := range []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm has no %s:\n%s", want, scripts)
		}
	}

	root := t.TempDir()
	command(t, "", nil, "rpm", "--root="+root, "--initdb")
	command(t, "", nil, "rpm", "--root="+root, "-i", "--nodeps", "--noscripts", rpmFile)
	if out := command(t, "", nil, filepath.Join(root, "usr/bin/redflag-agent"), "version"); !strings.HasPrefix(out, testVersion+" ") {
		t.Errorf("binary installed from the rpm says %q", out)
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit, with ExecStart
// pointed at a binary that exists here (verify checks that it does).
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	unit := strings.Replace(packaging.SystemdUnit, "\nExecStart=/usr/bin/redflag-agent run\n", "\nExecStart="+sh+" run\n", 1)
	if unit == packaging.SystemdUnit {
		t.Fatal("the unit has no ExecStart=/usr/bin/redflag-agent run line")
	}
	path := filepath.Join(t.TempDir(), "redflag-agent.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestUnitSettings pins the settings the agent's life depends on.
func TestUnitSettings(t *testing.T) {
	settings := map[string]string{}
	for _, l := range strings.Split(packaging.SystemdUnit, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			settings[k] = v
		}
	}
	for k, v := range map[string]string{
		"Type": "simple", "ExecStart": "/usr/bin/redflag-agent run", "Restart": "always",
		"RestartSec": "10s", "KillMode": "process", "PrivateTmp": "yes", "ProtectHome": "read-only",
		"ConditionPathExists": "/etc/redflag/agent.json", "WantedBy": "multi-user.target",
	} {
		if settings[k] != v {
			t.Errorf("%s=%q, want %q", k, settings[k], v)
		}
	}
	// Each would break package installs; the unit's comments say how.
	for _, k := range []string{"NoNewPrivileges", "RestrictSUIDSGID", "ProtectSystem", "ProtectKernelModules", "ProtectKernelTunables", "PrivateDevices", "ProtectClock"} {
		if v, ok := settings[k]; ok {
			t.Errorf("%s=%s is set; it breaks package installs", k, v)
		}
	}
}

// TestMaintainerScripts runs the packages' scripts with a fake systemctl
// and, in place of /run/systemd/system, a directory that says systemd
// runs; the argument conventions are dpkg's and rpm's.
func TestMaintainerScripts(t *testing.T) {
	root := repoRoot(t)
	tests := []struct {
		script string
		args   []string
		env    []string
		want   string
	}{
		{"postinstall.sh", []string{"configure", "1.2.2"}, nil, "daemon-reload\ntry-restart redflag-agent.service\n"},
		{"postinstall.sh", []string{"1"}, nil, "daemon-reload\ntry-restart redflag-agent.service\n"},
		{"postinstall.sh", []string{"configure"}, []string{"DPKG_ROOT=/sandbox"}, ""},
		{"preremove.sh", []string{"remove"}, nil, "disable --now redflag-agent.service\n"},
		{"preremove.sh", []string{"0"}, nil, "disable --now redflag-agent.service\n"},
		{"preremove.sh", []string{"upgrade", "1.2.4"}, nil, ""},
		{"preremove.sh", []string{"1"}, nil, ""},
		{"preremove.sh", []string{"remove"}, []string{"DPKG_ROOT=/sandbox"}, ""},
		{"postremove.sh", []string{"remove"}, nil, "daemon-reload\n"},
		{"postremove.sh", []string{"purge"}, []string{"DPKG_ROOT=/sandbox"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.script+" "+strings.Join(tt.args, " ")+" "+strings.Join(tt.env, " "), func(t *testing.T) {
			dir := t.TempDir()
			runDir := filepath.Join(dir, "run-systemd-system")
			bin := filepath.Join(dir, "bin")
			log := filepath.Join(dir, "calls")
			for _, d := range []string{runDir, bin} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\necho \"$*\" >>'"+log+"'\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(filepath.Join(root, "packaging/scripts", tt.script))
			if err != nil {
				t.Fatal(err)
			}
			script := strings.ReplaceAll(string(src), "/run/systemd/system", runDir)
			cmd := exec.Command("sh", append([]string{"-c", script, tt.script}, tt.args...)...)
			cmd.Env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH")}, tt.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got, _ := os.ReadFile(log)
			if string(got) != tt.want {
				t.Errorf("systemctl calls %q, want %q", got, tt.want)
			}
		})
	}
}
