package installscript

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redflag-io/redflag/packaging"
)

// These tests run the rendered script for real (bash, and dash when
// present) in a sandbox root against an HTTPS release server, with a fake
// agent binary and a fake systemctl that both append to one log, so the
// order of stops, binary swaps and registrations can be read back.

// releaseServer serves manifests and binaries under
// /api/v1/releases/<version>/linux-amd64/ like the gateway does.
type releaseServer struct {
	*httptest.Server

	mu       sync.Mutex
	binaries map[string][]byte // by version
	latest   string
	badSum   bool // the manifest lies about the SHA-256
	bare     bool // serve the manifest itself, not the signed envelope
	requests []string
}

func newReleaseServer(t *testing.T) *releaseServer {
	rs := &releaseServer{binaries: map[string][]byte{}}
	rs.Server = httptest.NewTLSServer(http.HandlerFunc(rs.serve))
	t.Cleanup(rs.Close)
	return rs
}

var releasePath = regexp.MustCompile(`^/api/v1/releases/([^/]+)/linux-amd64/(manifest\.json|redflag-agent)$`)

func (rs *releaseServer) serve(w http.ResponseWriter, r *http.Request) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.requests = append(rs.requests, r.URL.Path)
	m := releasePath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		http.NotFound(w, r)
		return
	}
	v := m[1]
	if v == "latest" {
		v = rs.latest
	}
	bin, ok := rs.binaries[v]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if m[2] == "redflag-agent" {
		_, _ = w.Write(bin)
		return
	}
	sum := sha256.Sum256(bin)
	if rs.badSum {
		sum = sha256.Sum256(append(bin, '!'))
	}
	manifest, _ := json.Marshal(map[string]any{
		"version": v, "os": "linux", "arch": "amd64",
		"sha256": hex.EncodeToString(sum[:]), "size": len(bin), "file": "redflag-agent",
	})
	w.Header().Set("Content-Type", "application/json")
	if rs.bare {
		_, _ = w.Write(manifest)
		return
	}
	// The envelope internal/release writes: the manifest's bytes and their
	// signature, base64 (encoding/json's []byte), indented.
	env, _ := json.MarshalIndent(map[string][]byte{"payload": manifest, "signature": bytes.Repeat([]byte{7}, 64)}, "", "  ")
	_, _ = w.Write(env)
}

func (rs *releaseServer) publish(version string, bin []byte, latest, badSum bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.binaries[version] = bin
	if latest {
		rs.latest = version
	}
	rs.badSum = badSum
}

func (rs *releaseServer) serveBare(bare bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.bare = bare
}

func (rs *releaseServer) takeRequests() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.requests
	rs.requests = nil
	return r
}

func (rs *releaseServer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rs.Certificate().Raw})
}

// sandbox is one host: a root directory, the tools' log and the rendered
// script.
type sandbox struct {
	t         *testing.T
	shell     string
	root      string
	log       string
	unitState string // the fake systemctl's record of the unit's state
	script    []byte
	env       []string
}

func newSandbox(t *testing.T, shell string, rs *releaseServer, releaseKey string) *sandbox {
	dir := t.TempDir()
	sb := &sandbox{t: t, shell: shell, root: filepath.Join(dir, "root"), log: filepath.Join(dir, "calls.log"), unitState: filepath.Join(dir, "unit-state")}
	if err := os.Mkdir(sb.root, 0o755); err != nil {
		t.Fatal(err)
	}
	// The fake systemctl logs each call with the version of the binary in
	// place at that moment, and keeps the unit's active state in a file.
	systemctl := filepath.Join(dir, "systemctl")
	writeExecutable(t, systemctl, fmt.Sprintf(`#!/bin/sh
marker=$(sed -n 's/^# fake-version: //p' %[1]s 2>/dev/null)
echo "systemctl $* bin=${marker:-none}" >>%[2]s
case $1 in
is-active)
	state=$(cat %[3]s 2>/dev/null || echo inactive)
	echo "$state"
	[ "$state" = active ]
	;;
stop) echo inactive >%[3]s ;;
start | restart) echo active >%[3]s ;;
esac
`, shellQuote(sb.path("/usr/bin/redflag-agent")), shellQuote(sb.log), shellQuote(sb.unitState)))
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	script, err := Render(Options{GatewayURL: rs.URL, CAPEM: rs.caPEM(), ReleasePublicKey: releaseKey})
	if err != nil {
		t.Fatal(err)
	}
	sb.script = script
	// A clean environment: nothing of the test's own REDFLAG_* leaks in.
	sb.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + tmp, "LC_ALL=C",
		"REDFLAG_ROOT=" + sb.root, "SYSTEMCTL=" + systemctl, "REDFLAG_OS=linux", "REDFLAG_ARCH=amd64",
	}
	return sb
}

// path is p inside the sandbox root.
func (sb *sandbox) path(p string) string { return filepath.Join(sb.root, p) }

// run pipes the script into the shell, as `curl | sh -s -- args` does.
func (sb *sandbox) run(args ...string) (stderr string, err error) {
	cmd := exec.Command(sb.shell, append([]string{"-s", "--"}, args...)...)
	cmd.Stdin = bytes.NewReader(sb.script)
	cmd.Env = sb.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// calls returns the log lines written since the previous call.
func (sb *sandbox) calls(seen *int) []string {
	data, err := os.ReadFile(sb.log)
	if err != nil && !os.IsNotExist(err) {
		sb.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	fresh := lines[*seen:]
	*seen = len(lines)
	return fresh
}

func (sb *sandbox) read(p string) []byte {
	sb.t.Helper()
	data, err := os.ReadFile(sb.path(p))
	if err != nil {
		sb.t.Fatal(err)
	}
	return data
}

func (sb *sandbox) mode(p string) os.FileMode {
	sb.t.Helper()
	fi, err := os.Stat(sb.path(p))
	if err != nil {
		sb.t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func (sb *sandbox) backups() []string {
	sb.t.Helper()
	b, err := filepath.Glob(sb.path("/etc/redflag/agent.json.*.bak"))
	if err != nil {
		sb.t.Fatal(err)
	}
	return b
}

func writeExecutable(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeAgent is a redflag-agent stand-in: it logs every call, answers
// version and help, and on register writes a config the way the real one
// does (indented JSON, mode 0600). A label named like a top-level field
// checks that the script reads the top-level one.
func fakeAgent(version, log string) []byte {
	return []byte(fmt.Sprintf(`#!/bin/sh
# fake-version: %[1]s
echo "agent[%[1]s] $*" >>%[2]s
case $1 in
version) echo "redflag-agent %[1]s linux/amd64 (fake)" ;;
help) echo "  redflag-agent register --server URL --token TOKEN [--ca-file FILE] [--release-key KEY]" ;;
register)
	shift
	config= server= cafile= key= token=
	while [ $# -gt 0 ]; do
		case $1 in
		--config) config=$2 ;;
		--token) token=$2 ;;
		--server) server=$2 ;;
		--ca-file) cafile=$2 ;;
		--release-key) key=$2 ;;
		esac
		shift 2
	done
	# What register was handed, for the tests to read back; a token
	# starting with "refused" fails the registration as the gateway would.
	[ ! -f "$config" ] || cp "$config" "$config.seen-by-register"
	case $token in refused*) echo "403 InvalidToken" >&2; exit 1 ;; esac
	umask 077
	printf '{\n  "schemaVersion": 2,\n  "serverURL": "%%s",\n  "caFile": "%%s",\n  "agentName": "web-1-0123abcd",\n  "namespace": "fleet",\n  "machineID": "0123456789abcdef0123456789abcdef",\n  "privateKey": "c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZHNlZWQ=",\n  "publicKey": "cHVibGljcHVibGljcHVibGljcHVibGljcHVibGljcHU=",\n  "releasePublicKey": "%%s",\n  "labels": {\n    "serverURL": "https://decoy.invalid"\n  }\n}\n' "$server" "$cafile" "$key" >"$config"
	;;
esac
`, version, shellQuote(log)))
}

// TestInstallThenUpgrade is the life of one host: a first install that
// enrolls, an upgrade that keeps the identity, a corrupt download that
// changes nothing, and a re-run that has nothing to do.
func TestInstallThenUpgrade(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) { testInstallThenUpgrade(t, shell) })
	}
}

func testInstallThenUpgrade(t *testing.T, shell string) {
	rs := newReleaseServer(t)
	key := testKey(t)
	sb := newSandbox(t, shell, rs, key)
	seen := 0
	v1, v2 := fakeAgent("v1", sb.log), fakeAgent("v2", sb.log)
	const bin, config, ca = "/usr/bin/redflag-agent", "/etc/redflag/agent.json", "/etc/redflag/ca.crt"

	// 1. First install: downloads, verifies, installs, registers, starts.
	rs.publish("v1", v1, true, false)
	out, err := sb.run("--token", "abcdef.0123456789abcdef", "--labels", "env=prod")
	if err != nil {
		t.Fatalf("first install: %v\n%s", err, out)
	}
	if got := sb.read(bin); !bytes.Equal(got, v1) || sb.mode(bin) != 0o755 {
		t.Errorf("binary not installed as v1 mode 0755 (mode %v)", sb.mode(bin))
	}
	if got := sb.read("/etc/systemd/system/redflag-agent.service"); string(got) != packaging.SystemdUnit {
		t.Error("the unit written differs from packaging/systemd/redflag-agent.service")
	}
	if got := sb.read(ca); !bytes.Equal(got, rs.caPEM()) {
		t.Errorf("CA file holds %q, want the gateway's CA", got)
	}
	for _, d := range []string{"/etc/redflag", "/var/lib/redflag"} {
		if m := sb.mode(d); m != 0o700 {
			t.Errorf("%s has mode %v, want 0700", d, m)
		}
	}
	if len(sb.backups()) != 0 {
		t.Errorf("backups made on a fresh install: %v", sb.backups())
	}
	calls := sb.calls(&seen)
	wantRegister := fmt.Sprintf("agent[v1] register --config %s --state-dir %s --server %s --token abcdef.0123456789abcdef --ca-file %s --release-key %s",
		sb.path(config), sb.path("/var/lib/redflag"), rs.URL, sb.path(ca), key)
	if !slices.Contains(calls, wantRegister) {
		t.Errorf("no registration %q in\n%s", wantRegister, strings.Join(calls, "\n"))
	}
	if !strings.Contains(out, "takes no --labels") {
		t.Errorf("no warning that this agent cannot take --labels:\n%s", out)
	}
	assertSystemctl(t, calls, []string{"is-active", "daemon-reload", "enable", "restart"})
	enrolled := sb.read(config)
	if sb.mode(config) != 0o600 {
		t.Errorf("config mode %v", sb.mode(config))
	}
	rs.takeRequests()

	// 2. Upgrade to v2, token given again: the config is backed up and
	// kept, the service is stopped while v1 is still in place, and only
	// then is the binary swapped. The unit is between two restarts
	// ("activating"), which counts as running.
	rs.publish("v2", v2, true, false)
	if err := os.WriteFile(sb.unitState, []byte("activating\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = sb.run("--token", "abcdef.0123456789abcdef", "--version", "v2")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if !strings.Contains(out, "already enrolled") {
		t.Errorf("upgrade did not report the existing enrollment:\n%s", out)
	}
	if got := sb.read(bin); !bytes.Equal(got, v2) {
		t.Error("binary not replaced by v2")
	}
	if got := sb.read(config); !bytes.Equal(got, enrolled) {
		t.Errorf("config changed by an upgrade:\n%s\nwas\n%s", got, enrolled)
	}
	backups := sb.backups()
	if len(backups) != 1 {
		t.Fatalf("backups %v, want one", backups)
	}
	if data, _ := os.ReadFile(backups[0]); !bytes.Equal(data, enrolled) {
		t.Error("the backup is not the config")
	}
	if fi, _ := os.Stat(backups[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	calls = sb.calls(&seen)
	for _, c := range calls {
		if strings.Contains(c, " register ") {
			t.Errorf("an enrolled host registered again: %s", c)
		}
	}
	assertSystemctl(t, calls, []string{"is-active", "stop", "daemon-reload", "enable", "restart"})
	// Up to and including the stop, v1 is in place; after it, v2.
	stop := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "systemctl stop ") })
	for i, c := range calls {
		if !strings.HasPrefix(c, "systemctl ") {
			continue
		}
		if want := map[bool]string{true: "bin=v1", false: "bin=v2"}[i <= stop]; !strings.HasSuffix(c, want) {
			t.Errorf("call %d %q: want %s (stop is call %d):\n%s", i, c, want, stop, strings.Join(calls, "\n"))
		}
	}
	if !slices.Contains(rs.takeRequests(), "/api/v1/releases/v2/linux-amd64/manifest.json") {
		t.Error("--version v2 did not fetch the v2 manifest")
	}

	// 3. A download whose SHA-256 does not match fails and changes nothing:
	// the old binary stays, the service is not stopped, no temp file stays.
	rs.publish("v3", fakeAgent("v3", sb.log), true, true)
	out, err = sb.run()
	if err == nil || !strings.Contains(out, "SHA-256 mismatch") {
		t.Fatalf("corrupt download: err %v, want a SHA-256 mismatch:\n%s", err, out)
	}
	if got := sb.read(bin); !bytes.Equal(got, v2) {
		t.Error("a corrupt download replaced the binary")
	}
	if calls := sb.calls(&seen); len(calls) != 0 {
		t.Errorf("a failed download still ran: %q", calls)
	}
	if left, _ := filepath.Glob(sb.path("/usr/bin/.redflag-agent.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if got := sb.read(config); !bytes.Equal(got, enrolled) || len(sb.backups()) != 1 {
		t.Error("a failed download touched the config or its backups")
	}

	// 4. Nothing new: no download, no stop, the service just kept running.
	// (The manifest is a bare one this time: both forms are read.)
	rs.publish("v2", v2, true, false)
	rs.serveBare(true)
	rs.takeRequests()
	out, err = sb.run()
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	if slices.Contains(rs.takeRequests(), "/api/v1/releases/latest/linux-amd64/redflag-agent") {
		t.Error("an up-to-date binary was downloaded again")
	}
	assertSystemctl(t, sb.calls(&seen), []string{"daemon-reload", "enable", "start"})
	if got := sb.read(config); !bytes.Equal(got, enrolled) {
		t.Error("a re-run changed the config")
	}
}

// TestFreshInstallNeedsToken: without --token a host that is not enrolled
// is refused before anything is downloaded or written.
func TestFreshInstallNeedsToken(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			rs := newReleaseServer(t)
			rs.publish("v1", fakeAgent("v1", "/dev/null"), true, false)
			sb := newSandbox(t, shell, rs, testKey(t))
			out, err := sb.run()
			if err == nil || !strings.Contains(out, "--token is required") {
				t.Fatalf("err %v, want a --token is required message:\n%s", err, out)
			}
			if entries, _ := os.ReadDir(sb.root); len(entries) != 0 {
				t.Errorf("the refused install wrote %v", entries)
			}
			if r := rs.takeRequests(); len(r) != 0 {
				t.Errorf("the refused install downloaded %v", r)
			}
		})
	}
}

// TestEnrolledHostPinsReleaseKey: a host enrolled before a release key was
// pinned registers again (same Agent) only when given a token, and a key
// already pinned is never swapped for the gateway's.
func TestEnrolledHostPinsReleaseKey(t *testing.T) {
	shell := shells(t)[0]
	rs := newReleaseServer(t)
	key := testKey(t)
	sb := newSandbox(t, shell, rs, key)
	rs.publish("v1", fakeAgent("v1", sb.log), true, false)
	seen := 0
	const config = "/etc/redflag/agent.json"
	writeConfig := func(pinned string) {
		t.Helper()
		data := fmt.Sprintf("{\n  \"schemaVersion\": 2,\n  \"serverURL\": %q,\n  \"agentName\": \"web-1\",\n  \"namespace\": \"fleet\",\n  \"privateKey\": \"c2VlZA==\",\n  \"releasePublicKey\": %q\n}\n", rs.URL+"/", pinned)
		if err := os.MkdirAll(sb.path("/etc/redflag"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sb.path(config), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	registered := func() bool {
		return slices.ContainsFunc(sb.calls(&seen), func(c string) bool { return strings.Contains(c, " register ") })
	}

	writeConfig("")
	out, err := sb.run()
	if err != nil || !strings.Contains(out, "no release key is pinned") || registered() {
		t.Fatalf("without a token: err %v, want a warning and no registration:\n%s", err, out)
	}
	out, err = sb.run("--token", "abcdef.0123456789abcdef")
	if err != nil || !registered() || !bytes.Contains(sb.read(config), []byte(key)) {
		t.Fatalf("with a token the key was not pinned: %v\n%s", err, out)
	}
	other := testKey(t)
	writeConfig(other)
	out, err = sb.run("--token", "abcdef.0123456789abcdef")
	if err != nil || !strings.Contains(out, "keeping the pinned one") || registered() {
		t.Fatalf("a pinned key was replaced: err %v:\n%s", err, out)
	}
	if !bytes.Contains(sb.read(config), []byte(other)) {
		t.Error("the pinned key is gone")
	}
}

// assertSystemctl checks the systemctl verbs called, in order.
func assertSystemctl(t *testing.T, calls, want []string) {
	t.Helper()
	var got []string
	for _, c := range calls {
		if rest, ok := strings.CutPrefix(c, "systemctl "); ok {
			got = append(got, strings.Fields(rest)[0])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("systemctl calls %q, want %q; all calls:\n%s", got, want, strings.Join(calls, "\n"))
	}
}
