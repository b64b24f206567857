// Command dev runs RedFlag on this machine for trying it out: `make run`.
//
// With a reachable cluster in $KUBECONFIG (or --kubeconfig) it installs the
// CRDs there and runs the manager against it. Without one it starts a local
// control plane from the same kube-apiserver and etcd the tests use
// (hack/envtest.sh), writes a kubeconfig for kubectl, applies a sample
// RegistrationToken and ScanSchedule and prints the command that enrolls this
// machine. --with-agent also enrolls and runs a local agent. Ctrl-C stops
// everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

type options struct {
	kubeconfig  string
	workDir     string
	gatewayPort int
	withAgent   bool
	binDir      string
}

func run() error {
	var o options
	flag.StringVar(&o.workDir, "dir", ".cache/redflag-dev", "Where the local control plane, kubeconfig, CA and agent files go.")
	flag.IntVar(&o.gatewayPort, "gateway-port", 9443, "Local port of the gateway.")
	flag.BoolVar(&o.withAgent, "with-agent", false, "Also enroll and run an agent on this machine.")
	flag.StringVar(&o.binDir, "bin", "bin", "Directory holding redflag-manager and redflag-agent (make build).")
	flag.Parse()
	// controller-runtime registers --kubeconfig itself; KUBECONFIG is the
	// fallback. Neither set: a local control plane.
	if f := flag.Lookup("kubeconfig"); f != nil {
		o.kubeconfig = f.Value.String()
	}
	if o.kubeconfig == "" {
		o.kubeconfig = os.Getenv("KUBECONFIG")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(o.workDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", o.workDir, err)
	}
	workDir, err := filepath.Abs(o.workDir)
	if err != nil {
		return err
	}
	o.workDir = workDir

	cl, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer cl.stop()

	mgr, err := startManager(o, cl.kubeconfig)
	if err != nil {
		return err
	}
	defer mgr.stop()

	token, caFile, err := prepare(ctx, cl, o, mgr)
	if err != nil {
		return err
	}
	gateway := fmt.Sprintf("https://127.0.0.1:%d", o.gatewayPort)
	agentDir := filepath.Join(o.workDir, "agent")
	agentArgs := fmt.Sprintf("--config %s/agent.json --state-dir %s/state", agentDir, agentDir)
	fmt.Printf(`
RedFlag is running.

  kubectl:       export KUBECONFIG=%s
                 kubectl get redflag -A
  gateway:       %s (CA: %s)
  enroll this machine (as root, default paths):
    %s/redflag-agent register --server %s --token %s --ca-file %s && %s/redflag-agent run
  or without root, with files under %s:
    %s/redflag-agent register --server %s --token %s --ca-file %s %s && %s/redflag-agent run %s

Ctrl-C stops everything this started.
`, cl.kubeconfig, gateway, caFile, o.binDir, gateway, token, caFile, o.binDir,
		agentDir, o.binDir, gateway, token, caFile, agentArgs, o.binDir, agentArgs)

	if o.withAgent {
		agent, err := startAgent(ctx, cl.client, o, gateway, token, caFile, agentDir)
		if err != nil {
			return err
		}
		defer agent.stop()
	}
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping...")
		return nil
	case <-mgr.done:
		return errors.New("the manager exited; see its output above")
	}
}

// child is a process this command started and must stop.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func start(name, bin string, args ...string) (*child, error) {
	c := &child{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = os.Stdout, os.Stderr
	// Its own process group: Ctrl-C reaches us, and we stop it in order.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	return c, nil
}

// stop sends SIGTERM and, after 15 seconds, SIGKILL.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
