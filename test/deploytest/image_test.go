package deploytest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/controllers"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
	"github.com/redflag-io/redflag/test/dockertest"
)

// TestImageRunsAsTheChartRunsIt is the fallback for a node this machine
// cannot run (see the README): the image `make image` builds, loaded into
// a real Docker engine and started with exactly what the chart's rendered
// Deployment gives its container (args, env, user, read-only root,
// dropped capabilities) and the chart's ServiceAccount token, against the
// test API server. It checks what a `helm install` user depends on: the
// pod turns Ready, wins the leader election, makes its gateway TLS Secret,
// serves /install.sh and the agent release bundled in the image, signed
// with the key the image was built with, and a host enrolled with that
// script turns Ready.
func TestImageRunsAsTheChartRunsIt(t *testing.T) {
	dockertest.Require(t)
	c := newCLI(t)
	tmp := t.TempDir()
	const ns, version = "redflag-image", "v0.9.0"
	archive, pub := buildImage(t, tmp, version)

	d := dockertest.Start(t)
	loaded := d.Docker(t, "load", "-i", archive)
	image := "example.test/redflag-manager:" + version
	if !strings.Contains(loaded, image) {
		t.Fatalf("docker load: %s; want %s", loaded, image)
	}

	gwPort, metricsPort, healthPort := freePort(t), freePort(t), freePort(t)
	rendered := c.template(chartDir, ns, "--set", "crds.enabled=false",
		"--set", "image.repository=example.test/redflag-manager", "--set", "image.tag="+version,
		"--set", "gateway.containerPort="+strconv.Itoa(gwPort), "--set", "metrics.port="+strconv.Itoa(metricsPort),
		"--set", "healthPort="+strconv.Itoa(healthPort))
	c.kubectl("create", "namespace", ns)
	c.kubectlIn(rendered, "apply", "--server-side", "-f", "-")
	// The cluster-wide objects (roles, bindings) would clash with the Helm
	// tests' release of the same names.
	t.Cleanup(func() { c.kubectlIn(rendered, "delete", "--ignore-not-found", "--wait=false", "-f", "-") })
	deploy := one(t, mustParse(t, rendered), "Deployment", "redflag")
	token := strings.TrimSpace(c.kubectl("-n", ns, "create", "token", "redflag", "--duration=1h"))

	// What the kubelet would mount for the pod's ServiceAccount, readable
	// by the non-root user.
	sa := filepath.Join(tmp, "serviceaccount")
	for name, data := range map[string][]byte{"token": []byte(token), "ca.crt": env.Config.CAData, "namespace": []byte(ns)} {
		if err := os.MkdirAll(sa, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sa, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for dir := sa; dir != filepath.Dir(os.TempDir()); dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	api, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	const podName = "redflag-7d9f8c6b5-x2x4z"
	runArgs := []string{"run", "-d", "--name", "redflag-manager", "--network", "host",
		"-v", sa + ":/var/run/secrets/kubernetes.io/serviceaccount:ro",
		"-e", "KUBERNETES_SERVICE_HOST=" + api.Hostname(), "-e", "KUBERNETES_SERVICE_PORT=" + api.Port()}
	runArgs = append(runArgs, securityFlags(t, deploy)...)
	vars := map[string]string{}
	for _, e := range containerEnv(t, deploy, map[string]string{"metadata.namespace": ns, "metadata.name": podName, "status.podIP": "127.0.0.1"}) {
		vars[e[0]] = e[1]
		runArgs = append(runArgs, "-e", e[0]+"="+e[1])
	}
	runArgs = append(runArgs, image)
	for _, a := range args(t, deploy) {
		runArgs = append(runArgs, expandVars(a, vars))
	}
	if img, _, _ := unstructured.NestedString(container(t, deploy), "image"); img != image {
		t.Fatalf("the chart runs %s, not the loaded %s", img, image)
	}
	d.Docker(t, runArgs...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager container log (tail):\n%s", d.Logs("redflag-manager", 60))
		}
		_, _ = d.TryDocker("rm", "-f", "redflag-manager")
		releaseAgentFinalizers(t)
	})

	// Ready, as the kubelet's readiness probe would ask.
	waitFor(t, 90*time.Second, "the container's /readyz", func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	if inspect := d.Docker(t, "inspect", "-f", "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}", "redflag-manager"); strings.TrimSpace(inspect) != "65532:65532 true" {
		t.Errorf("container user and read-only root: %q", inspect)
	}

	ctx := context.Background()
	var lease coordinationv1.Lease
	waitFor(t, 30*time.Second, "the leader-election Lease", func() error {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "redflag-manager"}, &lease); err != nil {
			return err
		}
		// The holder is the container's host name (a pod's is its name;
		// with the host's network here it is the machine's) and a UUID.
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return errors.New("no holder")
		}
		return nil
	})
	var secret corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "redflag-gateway-tls"}, &secret); err != nil {
		t.Fatalf("the manager made no gateway TLS Secret: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatal("the gateway TLS Secret has no CA")
	}
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := fmt.Sprintf("https://localhost:%d", gwPort)
	get := func(path string) []byte {
		t.Helper()
		resp, err := httpc.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v\n%.300s", path, resp.StatusCode, err, body)
		}
		return body
	}
	script := string(get("/install.sh"))
	for _, want := range []string{"RENDERED_GATEWAY_URL='" + base + "'", "RENDERED_RELEASE_KEY='" + pub + "'"} {
		if !strings.Contains(script, want) {
			t.Errorf("the served install script lacks %s", want)
		}
	}
	platform := release.Platform("linux", runtime.GOARCH)
	key, err := protocol.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	m, err := release.Verify(get("/api/v1/releases/latest/"+platform+"/manifest.json"), key)
	if err != nil || m.Version != version {
		t.Fatalf("the bundled release: %+v, %v; want %s signed with the image's key", m, err, version)
	}
	if bin := get("/api/v1/releases/" + version + "/" + platform + "/" + m.File); int64(len(bin)) != m.Size {
		t.Errorf("the agent binary served is %d bytes, the manifest says %d", len(bin), m.Size)
	}

	enrollWithTheServedScript(t, script, version)
}

// enrollWithTheServedScript enrolls this machine the way the NOTES say:
// a RegistrationToken, then the script the gateway served run as `curl |
// sh` would, as root, in a sandbox root (no systemd: the agent is started
// by hand), which installs the agent release bundled in the image. The
// host must then show in `kubectl get agents` as Ready, running the
// image's version.
func enrollWithTheServedScript(t *testing.T, script, version string) {
	t.Helper()
	ctx := context.Background()
	const hostsNS = "image-hosts"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hostsNS}}); err != nil {
		t.Fatal(err)
	}
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: hostsNS, Name: "hosts"}, Spec: redflagv1.RegistrationTokenSpec{TTL: &metav1.Duration{Duration: time.Hour}}}
	if err := env.Client.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var token string
	waitFor(t, 30*time.Second, "the token's Secret", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(tok), tok); err != nil {
			return err
		}
		var sec corev1.Secret
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: tok.Status.SecretName}, &sec); err != nil {
			return err
		}
		token = string(sec.Data["token"])
		return nil
	})

	root := filepath.Join(t.TempDir(), "host")
	cmd := exec.Command("sh", "-s", "--", "--token", token)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LC_ALL=C", "REDFLAG_ROOT=" + root, "SYSTEMCTL="}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the served install script failed: %v\n%s", err, out)
	}
	agentBin := filepath.Join(root, "usr", "bin", "redflag-agent")
	agent := exec.Command(agentBin, "run", "--no-supervisor",
		"--config", filepath.Join(root, "etc", "redflag", "agent.json"), "--state-dir", filepath.Join(root, "var", "lib", "redflag"))
	agentLog := &strings.Builder{}
	agent.Stdout, agent.Stderr = agentLog, agentLog
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = agent.Process.Kill()
		_ = agent.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", agentLog.String())
		}
	})
	waitFor(t, 60*time.Second, "the enrolled host Ready in `kubectl get agents`", func() error {
		var agents redflagv1.AgentList
		if err := env.Client.List(ctx, &agents, client.InNamespace(hostsNS)); err != nil {
			return err
		}
		if len(agents.Items) != 1 {
			return fmt.Errorf("%d Agents", len(agents.Items))
		}
		a := agents.Items[0]
		if !meta.IsStatusConditionTrue(a.Status.Conditions, "Ready") || a.Status.AgentVersion != version {
			return fmt.Errorf("Agent %s: version %q, conditions %+v", a.Name, a.Status.AgentVersion, a.Status.Conditions)
		}
		return nil
	})
}

// releaseAgentFinalizers takes the manager's finalizer off every Agent
// once the manager is gone, as nothing else would: the container ran the
// controllers cluster-wide, so Agents other tests made carry it too, and
// they (and the CRDs the Helm tests delete) could never be deleted.
func releaseAgentFinalizers(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var agents redflagv1.AgentList
	if err := env.Client.List(ctx, &agents); err != nil {
		t.Errorf("listing Agents to release their finalizers: %v", err)
		return
	}
	for i := range agents.Items {
		a := &agents.Items[i]
		if !controllerutil.ContainsFinalizer(a, controllers.AgentFinalizer) {
			continue
		}
		patch := client.MergeFrom(a.DeepCopy())
		controllerutil.RemoveFinalizer(a, controllers.AgentFinalizer)
		if err := env.Client.Patch(ctx, a, patch); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("releasing Agent %s/%s: %v", a.Namespace, a.Name, err)
		}
	}
}

// buildImage runs `go run ./hack/image` as `make image` does, for this
// machine's platform, and returns the archive and the release public key.
func buildImage(t *testing.T, dir, version string) (archive, publicKey string) {
	t.Helper()
	keyFile := filepath.Join(dir, "release.key")
	pub, err := release.WriteNewKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./hack/image", "--version", version, "--repository", "example.test/redflag-manager",
		"--platforms", "linux/"+runtime.GOARCH, "--release-key", keyFile, "--out", filepath.Join(dir, "dist"))
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go run ./hack/image: %v\n%s", err, stderr)
	}
	lines := strings.Fields(string(out))
	if len(lines) != 2 || !regexp.MustCompile(`@sha256:[0-9a-f]{64}$`).MatchString(lines[1]) {
		t.Fatalf("hack/image printed %q; want the archive and the image's digest", out)
	}
	return lines[0], base64.StdEncoding.EncodeToString(pub)
}

// securityFlags turns the container's securityContext into docker run
// flags, failing on a setting it does not know how to reproduce.
func securityFlags(t *testing.T, deploy *unstructured.Unstructured) []string {
	t.Helper()
	sc, _, _ := unstructured.NestedMap(container(t, deploy), "securityContext")
	var flags []string
	uid, _, _ := unstructured.NestedInt64(sc, "runAsUser")
	gid, _, _ := unstructured.NestedInt64(sc, "runAsGroup")
	if uid == 0 {
		uid, _, _ = unstructured.NestedInt64(deploy.Object, "spec", "template", "spec", "securityContext", "runAsUser")
		gid, _, _ = unstructured.NestedInt64(deploy.Object, "spec", "template", "spec", "securityContext", "runAsGroup")
	}
	if uid == 0 {
		t.Fatal("the chart runs the manager as root")
	}
	flags = append(flags, "--user", fmt.Sprintf("%d:%d", uid, gid))
	if ro, _, _ := unstructured.NestedBool(sc, "readOnlyRootFilesystem"); ro {
		flags = append(flags, "--read-only")
	}
	if esc, found, _ := unstructured.NestedBool(sc, "allowPrivilegeEscalation"); found && !esc {
		flags = append(flags, "--security-opt", "no-new-privileges")
	}
	drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop")
	for _, c := range drop {
		flags = append(flags, "--cap-drop", c)
	}
	return flags
}

// containerEnv resolves the container's env, field references from
// fields; other sources fail the test (the chart uses none).
func containerEnv(t *testing.T, deploy *unstructured.Unstructured, fields map[string]string) [][2]string {
	t.Helper()
	list, _, _ := unstructured.NestedSlice(container(t, deploy), "env")
	var out [][2]string
	for _, item := range list {
		e := item.(map[string]any)
		name, _ := e["name"].(string)
		if v, ok := e["value"].(string); ok {
			out = append(out, [2]string{name, v})
			continue
		}
		path, _, _ := unstructured.NestedString(e, "valueFrom", "fieldRef", "fieldPath")
		v, ok := fields[path]
		if !ok {
			t.Fatalf("env %s comes from %v, which this test cannot give", name, e["valueFrom"])
		}
		out = append(out, [2]string{name, v})
	}
	return out
}

// expandVars replaces $(NAME) as the kubelet does in args.
func expandVars(s string, vars map[string]string) string {
	return regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
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

// waitFor polls check every 500 ms until it returns nil, failing t with
// the last error after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not there after %s: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
