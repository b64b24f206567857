package selfupdate

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/config"
)

// binDir holds the binaries built for these tests, removed by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "selfupdate-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type built struct {
	once sync.Once
	path string
	err  error
}

var builds sync.Map // "pkg@version" -> *built

// buildBinary builds pkg (relative to the module root) with version
// stamped in, as `make build` does, once per test run.
func buildBinary(t *testing.T, pkg, version string) []byte {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the supervisor tests run shell scripts and Unix signals")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build test binaries: %v", err)
	}
	v, _ := builds.LoadOrStore(pkg+"@"+version, &built{})
	b := v.(*built)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg)+"-"+version)
		cmd := exec.Command(goTool, "build", "-o", b.path,
			"-ldflags", "-X github.com/redflag-io/redflag/internal/version.Version="+version, "./"+pkg)
		cmd.Dir = filepath.Join("..", "..", "..") // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	data, err := os.ReadFile(b.path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fakeAgent is testdata/fakeagent at version.
func fakeAgent(t *testing.T, version string) []byte {
	return buildBinary(t, "agent/internal/selfupdate/testdata/fakeagent", version)
}

// realAgent is redflag-agent itself at version.
func realAgent(t *testing.T, version string) []byte {
	return buildBinary(t, "agent/cmd/redflag-agent", version)
}

// install puts bin at the fixture's executable path: the host now runs it.
func (f *fixture) install(bin []byte) {
	f.t.Helper()
	if err := os.WriteFile(f.exe, bin, 0o755); err != nil {
		f.t.Fatal(err)
	}
	f.oldBin = bin
}

// enrolledConfig writes an agent config that passes `run`'s checks and
// points at a gateway that is never there: the daemon starts and keeps
// retrying its check-in, which is all these tests need of it.
func enrolledConfig(t *testing.T) string {
	t.Helper()
	c := config.New()
	c.ServerURL, c.AgentName, c.Namespace, c.MachineID = "https://127.0.0.1:1", "host-1", "default", "0123456789abcdef0123456789abcdef"
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetKey(key); err != nil {
		t.Fatal(err)
	}
	workPub, _, _ := ed25519.GenerateKey(nil)
	c.WorkPublicKey = base64.StdEncoding.EncodeToString(workPub)
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer collects a process's output for the failure log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
