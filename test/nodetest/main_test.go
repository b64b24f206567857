//go:build linux

package nodetest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/test/testenv"
)

// cluster is what hack/node.sh start wrote into DIR/env.
var cluster struct {
	dir          string
	kubeconfig   string
	nodeName     string
	pauseImage   string
	busyboxImage string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "nodetest: FAIL: the node cluster needs root (the kubelet, containerd and kube-proxy run on this machine)")
		return 1
	}
	// Short: containerd's socket path must fit in sun_path's 108 bytes.
	dir, err := os.MkdirTemp("", "rfnode-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodetest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(testenv.RepoRoot(), "hack", "node.sh")
	defer func() {
		stop := exec.Command(script, "stop", dir)
		stop.Stdout, stop.Stderr = os.Stderr, os.Stderr
		if err := stop.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "nodetest: hack/node.sh stop %s: %v\n", dir, err)
		}
	}()
	start := exec.Command(script, "start", dir)
	start.Stdout, start.Stderr = os.Stderr, os.Stderr
	if err := start.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "nodetest: FAIL: hack/node.sh start could not start the node cluster: %v (its output is above)\n", err)
		return 1
	}
	env, err := readEnv(filepath.Join(dir, "env"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodetest: FAIL:", err)
		return 1
	}
	cluster.dir = dir
	cluster.kubeconfig = env["KUBECONFIG"]
	cluster.nodeName = env["NODE_NAME"]
	cluster.pauseImage = env["PAUSE_IMAGE"]
	cluster.busyboxImage = env["BUSYBOX_IMAGE"]
	return m.Run()
}

// readEnv reads the KEY=VALUE lines of path.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	for _, k := range []string{"KUBECONFIG", "NODE_NAME", "PAUSE_IMAGE", "BUSYBOX_IMAGE"} {
		if env[k] == "" {
			return nil, fmt.Errorf("%s lacks %s", path, k)
		}
	}
	return env, sc.Err()
}

// logTail is the end of a component's log, for failure messages.
func logTail(name string) string {
	data, err := os.ReadFile(filepath.Join(cluster.dir, "logs", name+".log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
