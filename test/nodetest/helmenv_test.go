//go:build linux

package nodetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/redflag-io/redflag/internal/release"
	"github.com/redflag-io/redflag/test/testenv"
)

// helmEnv is the chart test's tools and state: a client of the node
// cluster, helm and kubectl with their state in the test's directory, and
// the hosts enrolled so far.
type helmEnv struct {
	t       *testing.T
	c       client.Client
	helmBin string
	kubectl string
	tmp     string
	env     []string
	hosts   []*host
	image   string // the image every pod must run now
}

func newHelmEnv(t *testing.T, tmp string) *helmEnv {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := testenv.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	// controller-runtime's client warns, with a stack, when no logger is set.
	ctrllog.SetLogger(logr.Discard())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	h := &helmEnv{t: t, c: c, tmp: tmp}
	h.helmBin = strings.TrimSpace(h.run(filepath.Join(testenv.RepoRoot(), "hack", "tool.sh"), "helm"))
	envtest := strings.TrimSpace(h.run(filepath.Join(testenv.RepoRoot(), "hack", "envtest.sh")))
	h.kubectl = filepath.Join(envtest, "kubectl")
	if _, err := os.Stat(h.kubectl); err != nil {
		t.Fatalf("no kubectl from hack/envtest.sh: %v", err)
	}
	// Helm's state and caches in the test's directory, not $HOME.
	h.env = append(os.Environ(), "KUBECONFIG="+cluster.kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(tmp, "helm", "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(tmp, "helm", "config"),
		"HELM_DATA_HOME="+filepath.Join(tmp, "helm", "data"))
	return h
}

// run runs a command, failing the test with its output when it fails.
func (h *helmEnv) run(name string, args ...string) string {
	h.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = h.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

func (h *helmEnv) helm(args ...string) string {
	h.t.Helper()
	return h.run(h.helmBin, args...)
}

func (h *helmEnv) ctr(args ...string) string {
	h.t.Helper()
	return h.run("ctr", append([]string{"--address", filepath.Join(cluster.dir, "containerd", "containerd.sock")}, args...)...)
}

func (h *helmEnv) nodeIP(ctx context.Context) string {
	h.t.Helper()
	var node corev1.Node
	if err := h.c.Get(ctx, client.ObjectKey{Name: cluster.nodeName}, &node); err != nil {
		h.t.Fatal(err)
	}
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	h.t.Fatalf("node %s has no InternalIP: %+v", node.Name, node.Status.Addresses)
	return ""
}

// waitFor polls check every 500 ms until it returns nil.
func (h *helmEnv) waitFor(ctx context.Context, timeout time.Duration, what string, check func() error) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			h.t.Fatalf("%s: not there after %s: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// assertPodsReady checks that the release runs exactly n pods, all Ready,
// each container as the chart asks: non-root (the process's real uid, read
// from /proc through containerd), on a read-only root file system, under
// the release's ServiceAccount with its token mounted.
func (h *helmEnv) assertPodsReady(ctx context.Context, n int) {
	h.t.Helper()
	var pods corev1.PodList
	h.waitFor(ctx, 90*time.Second, fmt.Sprintf("%d Ready pods of the release (old ones gone)", n), func() error {
		if err := h.c.List(ctx, &pods, client.InNamespace(helmNamespace), client.MatchingLabels{"app.kubernetes.io/instance": helmRelease}); err != nil {
			return err
		}
		if len(pods.Items) != n {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || !podReady(&p) {
				return fmt.Errorf("pod %s not Ready: %+v", p.Name, p.Status.Conditions)
			}
		}
		return nil
	})
	tasks := h.ctr("-n", "k8s.io", "tasks", "ls")
	for _, p := range pods.Items {
		// Ready came from the kubelet's own probes, not a bare start.
		for _, c := range p.Spec.Containers {
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil {
				h.t.Errorf("pod %s container %s lacks the chart's HTTP readiness and liveness probes", p.Name, c.Name)
			}
		}
		if want := helmRelease; p.Spec.ServiceAccountName != want && p.Spec.ServiceAccountName != want+"-gateway" {
			h.t.Errorf("pod %s runs as ServiceAccount %q", p.Name, p.Spec.ServiceAccountName)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Image != h.image && !strings.HasSuffix(cs.Image, "/"+h.image) {
				h.t.Errorf("pod %s runs image %s", p.Name, cs.Image)
			}
			if cs.RestartCount != 0 {
				h.t.Errorf("pod %s container %s restarted %d times", p.Name, cs.Name, cs.RestartCount)
			}
			id := strings.TrimPrefix(cs.ContainerID, "containerd://")
			pid := taskPID(tasks, id)
			if pid == "" {
				h.t.Errorf("containerd runs no task %s (pod %s)", id, p.Name)
				continue
			}
			status, err := os.ReadFile("/proc/" + pid + "/status")
			if err != nil {
				h.t.Errorf("pod %s: %v", p.Name, err)
				continue
			}
			if uid := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)`).FindStringSubmatch(string(status)); uid == nil || uid[1] != "65532" || uid[2] != "65532" {
				h.t.Errorf("pod %s's process runs as %v, want uid 65532", p.Name, uid)
			}
			mounts, err := os.ReadFile("/proc/" + pid + "/mounts")
			if err != nil {
				h.t.Errorf("pod %s: %v", p.Name, err)
				continue
			}
			rootRO, token := false, false
			for _, line := range strings.Split(string(mounts), "\n") {
				f := strings.Fields(line)
				if len(f) < 4 {
					continue
				}
				if f[1] == "/" {
					rootRO = strings.HasPrefix(f[3], "ro,") || f[3] == "ro"
				}
				if f[1] == "/var/run/secrets/kubernetes.io/serviceaccount" {
					token = true
				}
			}
			if !rootRO {
				h.t.Errorf("pod %s's root file system is writable", p.Name)
			}
			if !token {
				h.t.Errorf("pod %s has no ServiceAccount token mounted", p.Name)
			}
		}
	}
}

// taskPID finds the pid of container id in `ctr tasks ls` output.
func taskPID(tasks, id string) string {
	for _, line := range strings.Split(tasks, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == id && f[2] == "RUNNING" {
			return f[1]
		}
	}
	return ""
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// dump logs what a failure needs: the pods described, their logs, the
// namespace's events.
func (h *helmEnv) dump(ns string) {
	for _, args := range [][]string{
		{"-n", ns, "get", "all,secrets,leases", "-o", "wide"},
		{"-n", ns, "describe", "pods"},
		{"-n", ns, "logs", "--all-containers", "--prefix", "--tail=80", "-l", "app.kubernetes.io/instance=" + helmRelease},
		{"-n", ns, "get", "events", "--sort-by=.lastTimestamp"},
		{"-n", hostsNS, "get", "agents,rtokens", "-o", "yaml"},
	} {
		cmd := exec.Command(h.kubectl, args...)
		cmd.Env = h.env
		out, err := cmd.CombinedOutput()
		h.t.Logf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	h.t.Logf("kubelet log:\n%s", logTail("kubelet"))
}

// get fetches url, into *body when body is not nil; a status other than
// 200 is an error.
func get(c *http.Client, url string, body *[]byte) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %.300s", url, resp.StatusCode, data)
	}
	if body != nil {
		*body = data
	}
	return nil
}

// images are the archives builtImage made, by version: every test of the
// package uses the same build.
var images = map[string]string{}

// builtImage is the archive of the manager image at version, built once
// per package run (tests run one at a time) with one release key.
func builtImage(t *testing.T, version string) string {
	t.Helper()
	if a, ok := images[version]; ok {
		return a
	}
	a := buildImage(t, filepath.Join(cluster.dir, "images"), version)
	images[version] = a
	return a
}

// buildImage runs `go run ./hack/image` as `make image` does, for
// linux/amd64 with a throwaway release key, and returns the archive.
func buildImage(t *testing.T, dir, version string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "release.key") // one release key for every build
	if _, err := os.Stat(keyFile); err != nil {
		if _, err := release.WriteNewKey(keyFile); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", "./hack/image", "--version", version, "--repository", imageRepo,
		"--platforms", "linux/amd64", "--agent-platforms", "linux/amd64",
		"--release-key", keyFile, "--out", filepath.Join(dir, "dist"))
	cmd.Dir = testenv.RepoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run ./hack/image: %v\n%s", err, stderr.Bytes())
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || !regexp.MustCompile(`^`+regexp.QuoteMeta(imageRepo+":"+version)+`@sha256:[0-9a-f]{64}$`).MatchString(f[1]) {
		t.Fatalf("hack/image printed %q; want the archive and %s:%s@sha256:...", out, imageRepo, version)
	}
	return f[0]
}

// transcript logs a command a user would run and what it printed; with
// NODETEST_TRANSCRIPT set, it also appends both to that file, which is
// where the README's Helm walk-through output comes from.
func (h *helmEnv) transcript(command, output string) {
	h.t.Logf("$ %s\n%s", command, output)
	path := os.Getenv("NODETEST_TRANSCRIPT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		h.t.Errorf("NODETEST_TRANSCRIPT: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "$ %s\n%s\n", command, strings.TrimRight(output, "\n")); err != nil {
		h.t.Errorf("NODETEST_TRANSCRIPT: %v", err)
	}
}
