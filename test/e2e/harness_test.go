package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/redflag-io/redflag/test/testenv"
)

// binaries are built once per test run.
var (
	buildOnce            sync.Once
	managerBin, agentBin string
	buildErr             error
)

func buildBinaries(t *testing.T) (string, string) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "redflag-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		managerBin, agentBin = filepath.Join(dir, "redflag-manager"), filepath.Join(dir, "redflag-agent")
		root := testenv.RepoRoot()
		for _, b := range []struct{ out, pkg string }{{managerBin, "."}, {agentBin, "./agent/cmd/redflag-agent"}} {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return managerBin, agentBin
}

// cluster is a control plane with the manager binary running against it.
type cluster struct {
	env        *testenv.Env
	kubeconfig string
	gatewayURL string
	caFile     string
	manager    *process
	port       int
	args       []string // the manager's flags
}

// startCluster starts a control plane and the manager binary; managerArgs
// are added to its flags.
func startCluster(t *testing.T, managerArgs ...string) *cluster {
	t.Helper()
	c := startControlPlane(t)
	mgrBin, _ := buildBinaries(t)
	c.args = c.managerArgs(managerArgs...)
	c.manager = startProcess(t, "manager", mgrBin, nil, c.args...)
	c.waitForGateway(t, c.manager.exited, func() string { return c.manager.out.String() })
	return c
}

// restartManager starts the manager again with the same flags (after it
// was stopped or killed) and waits for its gateway.
func (c *cluster) restartManager(t *testing.T) {
	t.Helper()
	mgrBin, _ := buildBinaries(t)
	c.manager = startProcess(t, "manager", mgrBin, nil, c.args...)
	c.waitForGateway(t, c.manager.exited, func() string { return c.manager.out.String() })
}

// startControlPlane starts kube-apiserver and etcd, writes an admin
// kubeconfig and picks the gateway's port; it starts no manager.
func startControlPlane(t *testing.T) *cluster {
	t.Helper()
	buildBinaries(t)
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dir := t.TempDir()
	user, err := env.AddAdmin()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, user, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "redflag-system"}}); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	return &cluster{env: env, kubeconfig: kubeconfig, port: port, gatewayURL: "https://127.0.0.1:" + strconv.Itoa(port)}
}

// managerArgs are the manager's flags for this cluster (leader-elected, as
// the chart runs it), then extra.
func (c *cluster) managerArgs(extra ...string) []string {
	return append([]string{
		"--kubeconfig", c.kubeconfig, "--namespace", "redflag-system",
		"--gateway-bind-address", "127.0.0.1:" + strconv.Itoa(c.port),
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--leader-elect",
	}, extra...)
}

// waitForGateway waits for the gateway's TLS Secret (hosts pin the CA in
// it) and for the gateway to listen.
func (c *cluster) waitForGateway(t *testing.T, exited func() bool, output func() string) {
	t.Helper()
	ctx := context.Background()
	var secret corev1.Secret
	eventually(t, 60*time.Second, "the gateway's TLS Secret", func() bool {
		if exited() {
			t.Fatalf("the manager exited:\n%s", tail(output(), 4000))
		}
		return c.env.Client.Get(ctx, client.ObjectKey{Namespace: "redflag-system", Name: "redflag-gateway-tls"}, &secret) == nil
	})
	c.caFile = filepath.Join(filepath.Dir(c.kubeconfig), "ca.crt")
	if err := os.WriteFile(c.caFile, secret.Data["ca.crt"], 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the gateway to listen", func() bool {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.port), time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err == nil
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a child process whose output is kept for failure reports.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

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

func startProcess(t *testing.T, name, bin string, env []string, args ...string) *process {
	t.Helper()
	p, err := spawn(name, bin, env, &syncBuffer{}, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, tail(p.out.String(), 6000))
		}
	})
	return p
}

// spawn starts a process writing to out; the caller stops it.
func spawn(name, bin string, env []string, out *syncBuffer, args ...string) (*process, error) {
	p := &process{name: name, cmd: exec.Command(bin, args...), out: out, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop asks politely (SIGTERM), then kills.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process at once, as a crash or power loss would.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
