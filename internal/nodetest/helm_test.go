//go:build linux

package nodetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
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
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/apttest"
	"github.com/redflag-io/redflag/internal/release"
	"github.com/redflag-io/redflag/internal/testenv"
)

// The release the chart test installs: fullname "redflag", so the
// gateway's Service is redflag-gateway and its Secret redflag-gateway-tls.
const (
	helmRelease   = "redflag"
	helmNamespace = "redflag-system"
	hostsNS       = "helm-hosts"
	imageRepo     = "redflag.local/redflag-manager"
	imageVersion  = "v0.9.0"
	// rebuiltVersion is the image helm upgrade moves to: rebuilt from the
	// same sources under a new version, as a release would be.
	rebuiltVersion = "v0.9.1"
)

// TestHelmChartOnTheNode installs the chart as a user would, on a real
// node: the manager image built by hack/image and imported into the
// node's containerd, `helm install --wait` (so the kubelet's probes pass
// for real, in a non-root container with a read-only root, talking to the
// API server with its ServiceAccount's token), then a host enrolled with
// the /install.sh the gateway serves through its NodePort Service, which
// turns Ready in `kubectl get agents`. `helm upgrade` to a separate
// gateway Deployment rolls the pods while the host keeps checking in, and
// `helm uninstall` keeps the CRDs and leaves the host refused.
func TestHelmChartOnTheNode(t *testing.T) {
	apttest.Require(t) // the host's packages live in a sandbox apt root
	started := time.Now()
	tmp := t.TempDir()
	h := newHelmEnv(t, tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	nodeIP := h.nodeIP(ctx)

	// 1. The image, built as `make image` builds it, into the node.
	archive := buildImage(t, tmp, imageVersion)
	h.image = imageRepo + ":" + imageVersion
	h.ctr("-n", "k8s.io", "images", "import", archive)
	image := imageRepo + ":" + imageVersion
	if out := h.ctr("-n", "k8s.io", "images", "ls", "-q"); !strings.Contains(out, image) {
		t.Fatalf("containerd has no %s after the import; it has:\n%s", image, out)
	}
	t.Logf("image built and imported after %s", time.Since(started).Round(time.Second))

	// 2. helm install, waiting for every pod to be Ready.
	t.Cleanup(func() {
		if t.Failed() {
			h.dump(helmNamespace)
		}
	})
	chart := filepath.Join(testenv.RepoRoot(), "charts", "redflag")
	h.helm("install", helmRelease, chart, "--namespace", helmNamespace, "--create-namespace",
		"--set", "image.repository="+imageRepo, "--set", "image.tag="+imageVersion, "--set", "image.pullPolicy=Never",
		"--set", "gateway.service.type=NodePort", "--set", "gateway.dnsNames={"+nodeIP+"}",
		"--wait", "--timeout", "3m")
	t.Logf("helm install done after %s", time.Since(started).Round(time.Second))
	h.assertPodsReady(ctx, 1)

	// The manager talks to the API server with its ServiceAccount's
	// token: it won the leader election and made the gateway's Secrets.
	var lease coordinationv1.Lease
	h.waitFor(ctx, 60*time.Second, "the manager's leader-election Lease", func() error {
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: helmRelease + "-manager"}, &lease); err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || !strings.HasPrefix(*lease.Spec.HolderIdentity, helmRelease+"-") {
			return fmt.Errorf("holder %v, want a pod of the release", lease.Spec.HolderIdentity)
		}
		return nil
	})
	var secret corev1.Secret
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: helmRelease + "-gateway-tls"}, &secret); err != nil {
		t.Fatalf("the manager made no gateway TLS Secret: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatal("the gateway TLS Secret has no CA")
	}
	var svc corev1.Service
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: helmRelease + "-gateway"}, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("gateway Service: type %s, ports %+v; want one NodePort", svc.Spec.Type, svc.Spec.Ports)
	}

	// Inside the cluster, by the Service's ClusterIP and DNS name (which
	// the self-signed certificate names), through kube-proxy's rules.
	inCluster := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, ServerName: fmt.Sprintf("%s-gateway.%s.svc", helmRelease, helmNamespace)}}}
	h.waitFor(ctx, 60*time.Second, "the gateway's /healthz through the Service's ClusterIP", func() error {
		return get(inCluster, fmt.Sprintf("https://%s:%d/healthz", svc.Spec.ClusterIP, svc.Spec.Ports[0].Port), nil)
	})

	// 3. A host outside the cluster: the node's address and the NodePort,
	// which gateway.dnsNames put into the certificate.
	base := fmt.Sprintf("https://%s:%d", nodeIP, svc.Spec.Ports[0].NodePort)
	hosts := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var script []byte
	h.waitFor(ctx, 60*time.Second, "/install.sh through the NodePort", func() error {
		script = nil
		return get(hosts, base+"/install.sh", &script)
	})
	if !bytes.Contains(script, []byte("RENDERED_GATEWAY_URL='"+base+"'")) {
		t.Fatalf("the served install script does not name %s as the gateway", base)
	}
	ag := h.enroll(ctx, string(script))
	t.Logf("host enrolled and Ready after %s", time.Since(started).Round(time.Second))

	// Check in every 5s from now on, so the host's check-ins span the
	// upgrade below.
	var agent redflagv1.Agent
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: ag}, &agent); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(agent.DeepCopy())
	agent.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second}
	if err := h.c.Patch(ctx, &agent, patch); err != nil {
		t.Fatal(err)
	}
	mark := time.Now()
	h.waitFor(ctx, 90*time.Second, "a check-in at the new 5s interval", func() error {
		return h.checkedInSince(mark)
	})
	// Two successive check-ins at most ~10s apart: the interval took.
	mark = time.Now()
	h.waitFor(ctx, 20*time.Second, "the next check-in within 20s", func() error {
		return h.checkedInSince(mark)
	})

	// The host scans and a rollout upgrades it, all through the chart's
	// gateway.
	h.scanAndRollOut(ctx, ag)
	t.Logf("host scanned and upgraded by a rollout after %s", time.Since(started).Round(time.Second))

	// 4. helm upgrade to a separate gateway: the pods roll to Ready; the
	// host keeps checking in and loses no report.
	// What the host did while the pods rolled: the state file, sampled.
	upgradeStart := time.Now()
	stopWatch := make(chan struct{})
	watched := make(chan upgradeWatch, 1)
	// A rebuilt image and a changed value in one upgrade.
	h.ctr("-n", "k8s.io", "images", "import", buildImage(t, tmp, rebuiltVersion))
	h.image = imageRepo + ":" + rebuiltVersion
	go func() { watched <- h.watchCheckIns(ctx, stopWatch) }()
	h.helm("upgrade", helmRelease, chart, "--namespace", helmNamespace, "--reuse-values",
		"--set", "image.tag="+rebuiltVersion, "--set", "gateway.separate=true", "--wait", "--timeout", "3m")
	close(stopWatch)
	w := <-watched
	t.Logf("helm upgrade done after %s (%s): the host checked in %d times meanwhile, failed %d times %q; the gateway Service had no ready endpoint for %s",
		time.Since(started).Round(time.Second), time.Since(upgradeStart).Round(time.Second), w.checkIns, len(w.errors), w.errors, w.noEndpoints.Round(100*time.Millisecond))
	// It kept checking in while the pods rolled, and the Service always
	// had a pod serving the gateway behind it: every pod that serves it
	// carries the label the Service selects, so the old manager pod stays
	// until the new gateway pods are Ready (before, the selector moved at
	// once and the Service was empty for about 14 s: docs/node-cluster.md).
	if w.checkIns == 0 {
		t.Errorf("the host did not check in once during the %s upgrade (failures: %q)", time.Since(upgradeStart).Round(time.Second), w.errors)
	}
	if w.noEndpoints > time.Second {
		t.Errorf("the gateway Service had no ready endpoint for %s during the upgrade", w.noEndpoints.Round(100*time.Millisecond))
	}
	var gw appsv1.Deployment
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: helmRelease + "-gateway"}, &gw); err != nil {
		t.Fatalf("no separate gateway Deployment after the upgrade: %v", err)
	}
	h.assertPodsReady(ctx, 3) // the manager and two gateway replicas
	mark = time.Now()
	h.waitFor(ctx, 60*time.Second, "a check-in to the separate gateway", func() error {
		if err := h.checkedInSince(mark); err != nil {
			return err
		}
		st, err := h.state()
		if err != nil {
			return err
		}
		if st.PendingReports != 0 || st.DroppedReports != 0 {
			return fmt.Errorf("%d reports pending, %d dropped", st.PendingReports, st.DroppedReports)
		}
		return nil
	})
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: ag}, &agent); err != nil {
		t.Fatal(err)
	}
	if !meta.IsStatusConditionTrue(agent.Status.Conditions, "Ready") {
		t.Fatalf("Agent %s is not Ready after the upgrade: %+v", ag, agent.Status.Conditions)
	}

	// 5. helm uninstall keeps the CRDs (and so every Agent); the host's
	// check-ins are then refused, with an error that says where it went.
	h.helm("uninstall", helmRelease, "--namespace", helmNamespace, "--wait", "--timeout", "2m")
	t.Logf("helm uninstall done after %s", time.Since(started).Round(time.Second))
	for _, crd := range []string{"agents", "registrationtokens", "scanschedules", "agentupdates"} {
		var c apiextensionsv1.CustomResourceDefinition
		if err := h.c.Get(ctx, client.ObjectKey{Name: crd + ".redflag.io"}, &c); err != nil || c.DeletionTimestamp != nil {
			t.Errorf("CRD %s.redflag.io after helm uninstall: %v (deleting: %v)", crd, err, c.DeletionTimestamp != nil)
		}
	}
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: ag}, &agent); err != nil {
		t.Errorf("Agent %s after helm uninstall: %v", ag, err)
	}
	mark = time.Now()
	var refused string
	h.waitFor(ctx, 60*time.Second, "the host's check-in refused", func() error {
		st, err := h.state()
		if err != nil {
			return err
		}
		if st.LastErrorAt == nil || !st.LastErrorAt.After(mark) || st.LastError == "" {
			return fmt.Errorf("no failed check-in since the uninstall (last check-in %v)", st.LastCheckIn)
		}
		refused = st.LastError
		return nil
	})
	hostPort := strings.TrimPrefix(base, "https://")
	if !strings.Contains(refused, hostPort) || !strings.Contains(refused, "connection refused") {
		t.Errorf("the host's check-in error %q does not say that %s refused it", refused, hostPort)
	}
	t.Logf("after helm uninstall the host reports: %s", refused)
	t.Logf("the whole test took %s", time.Since(started).Round(time.Second))
}

type helmEnv struct {
	t       *testing.T
	c       client.Client
	helmBin string
	kubectl string
	tmp     string
	env     []string
	root    string // the enrolled host's sandbox root
	agent   *exec.Cmd
	log     *bytes.Buffer
	apt     *apttest.Sandbox // the host's packages
	image   string           // the image every pod must run now
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

// enroll creates a RegistrationToken, runs the served script as `curl |
// sh` would, as root, in a sandbox root (no systemd), starts the agent it
// installed by hand, and waits for its Agent to turn Ready running the
// image's version. It returns the Agent's name.
func (h *helmEnv) enroll(ctx context.Context, script string) string {
	t := h.t
	t.Helper()
	if err := h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hostsNS}}); err != nil {
		t.Fatal(err)
	}
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: hostsNS, Name: "hosts"},
		Spec: redflagv1.RegistrationTokenSpec{TTL: &metav1.Duration{Duration: time.Hour}}}
	if err := h.c.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var token string
	h.waitFor(ctx, 30*time.Second, "the token's Secret", func() error {
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(tok), tok); err != nil {
			return err
		}
		if tok.Status.SecretName == "" {
			return errors.New("no status.secretName yet")
		}
		var sec corev1.Secret
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: tok.Status.SecretName}, &sec); err != nil {
			return err
		}
		token = string(sec.Data["token"])
		return nil
	})

	h.root = filepath.Join(h.tmp, "host")
	cmd := exec.Command("sh", "-s", "--", "--token", token)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.tmp, "LC_ALL=C", "REDFLAG_ROOT=" + h.root, "SYSTEMCTL="}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the served install script failed: %v\n%s", err, out)
	}
	h.log = &bytes.Buffer{}
	// The host's packages: a sandbox apt root (never this machine's own)
	// with redflag-demo 1.0 installed and 2.0 in its repository, which the
	// agent's real apt scanner and installer use through APT_CONFIG.
	h.apt = apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-demo", Version: "1.0"}},
		Repos:     []apttest.Repo{{Packages: []apttest.Package{{Name: "redflag-demo", Version: "2.0"}}}},
	})
	h.agent = exec.Command(filepath.Join(h.root, "usr", "bin", "redflag-agent"), "run", "--no-supervisor",
		"--config", filepath.Join(h.root, "etc", "redflag", "agent.json"), "--state-dir", filepath.Join(h.root, "var", "lib", "redflag"))
	h.agent.Env = h.apt.Env()
	h.agent.Stdout, h.agent.Stderr = h.log, h.log
	if err := h.agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.agent.Process.Kill()
		_ = h.agent.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", h.log.String())
		}
	})
	var name string
	h.waitFor(ctx, 90*time.Second, "the enrolled host Ready in `kubectl get agents`", func() error {
		var agents redflagv1.AgentList
		if err := h.c.List(ctx, &agents, client.InNamespace(hostsNS)); err != nil {
			return err
		}
		if len(agents.Items) != 1 {
			return fmt.Errorf("%d Agents", len(agents.Items))
		}
		a := agents.Items[0]
		if !meta.IsStatusConditionTrue(a.Status.Conditions, "Ready") || a.Status.AgentVersion != imageVersion {
			return fmt.Errorf("Agent %s: version %q, conditions %+v", a.Name, a.Status.AgentVersion, a.Status.Conditions)
		}
		name = a.Name
		return nil
	})
	if out := h.run(h.kubectl, "-n", hostsNS, "get", "agents"); !strings.Contains(out, name) {
		t.Fatalf("kubectl get agents does not list %s:\n%s", name, out)
	}
	return name
}

// scanAndRollOut asks the host for an updates scan (a ScanSchedule and
// scan-now), waits for redflag-demo 2.0 to show as pending on its Agent,
// then applies an AgentUpdate for it and waits until the rollout succeeded
// and the sandbox holds 2.0.
func (h *helmEnv) scanAndRollOut(ctx context.Context, agentName string) {
	t := h.t
	t.Helper()
	schedule := &redflagv1.ScanSchedule{ObjectMeta: metav1.ObjectMeta{Namespace: hostsNS, Name: "updates"},
		Spec: redflagv1.ScanScheduleSpec{Subsystems: redflagv1.ScanSubsystems{Updates: &redflagv1.UpdatesSchedule{
			SubsystemSchedule: redflagv1.SubsystemSchedule{Interval: metav1.Duration{Duration: time.Hour}}}}}}
	if err := h.c.Create(ctx, schedule); err != nil {
		t.Fatal(err)
	}
	var agent redflagv1.Agent
	key := client.ObjectKey{Namespace: hostsNS, Name: agentName}
	if err := h.c.Get(ctx, key, &agent); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(agent.DeepCopy())
	metav1.SetMetaDataAnnotation(&agent.ObjectMeta, redflagv1.ScanNowAnnotation, time.Now().UTC().Format(time.RFC3339))
	if err := h.c.Patch(ctx, &agent, patch); err != nil {
		t.Fatal(err)
	}
	h.waitFor(ctx, 90*time.Second, "redflag-demo 2.0 pending on the Agent", func() error {
		if err := h.c.Get(ctx, key, &agent); err != nil {
			return err
		}
		for _, item := range agent.Status.Updates.Items {
			if item.Name == "redflag-demo" && item.AvailableVersion == "2.0" {
				return nil
			}
		}
		return fmt.Errorf("status.updates %+v", agent.Status.Updates)
	})
	rollout := &redflagv1.AgentUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: hostsNS, Name: "demo-upgrade"},
		Spec: redflagv1.AgentUpdateSpec{Agents: []string{agentName},
			Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeNamed, Names: []string{"redflag-demo"}}}}
	if err := h.c.Create(ctx, rollout); err != nil {
		t.Fatal(err)
	}
	h.waitFor(ctx, 120*time.Second, "the rollout to succeed", func() error {
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(rollout), rollout); err != nil {
			return err
		}
		if rollout.Status.Phase != redflagv1.RolloutSucceeded {
			return fmt.Errorf("phase %q, %+v", rollout.Status.Phase, rollout.Status.Conditions)
		}
		return nil
	})
	if v := h.apt.InstalledVersion(t, "redflag-demo"); v != "2.0" {
		t.Fatalf("the rollout succeeded but the host's redflag-demo is %q, want 2.0", v)
	}
}

// upgradeWatch is what watchCheckIns saw.
type upgradeWatch struct {
	checkIns    int           // distinct successful check-ins
	errors      []string      // distinct check-in errors
	noEndpoints time.Duration // how long the gateway Service had no ready endpoint
}

// watchCheckIns samples the host's state file and the gateway Service's
// EndpointSlices every 200 ms until stop.
func (h *helmEnv) watchCheckIns(ctx context.Context, stop <-chan struct{}) upgradeWatch {
	var w upgradeWatch
	var lastOK, lastErr time.Time
	first := true // the first sample is the baseline
	prev := time.Now()
	for {
		var slices discoveryv1.EndpointSliceList
		if err := h.c.List(ctx, &slices, client.InNamespace(helmNamespace),
			client.MatchingLabels{discoveryv1.LabelServiceName: helmRelease + "-gateway"}); err == nil {
			ready := 0
			for _, sl := range slices.Items {
				for _, ep := range sl.Endpoints {
					if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
						ready++
					}
				}
			}
			if ready == 0 {
				w.noEndpoints += time.Since(prev)
			}
		}
		prev = time.Now()
		if st, err := h.state(); err == nil {
			if st.LastCheckIn != nil && !st.LastCheckIn.Equal(lastOK) {
				if !first {
					w.checkIns++
				}
				lastOK = *st.LastCheckIn
			}
			if st.LastErrorAt != nil && !st.LastErrorAt.Equal(lastErr) {
				if !first {
					w.errors = append(w.errors, st.LastError)
				}
				lastErr = *st.LastErrorAt
			}
			first = false
		}
		select {
		case <-stop:
			return w
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// agentState is the part of the agent's state.json this test reads.
type agentState struct {
	LastCheckIn    *time.Time `json:"lastCheckIn"`
	LastError      string     `json:"lastError"`
	LastErrorAt    *time.Time `json:"lastErrorAt"`
	PendingReports int        `json:"pendingReports"`
	DroppedReports uint64     `json:"droppedReports"`
}

func (h *helmEnv) state() (agentState, error) {
	var st agentState
	data, err := os.ReadFile(filepath.Join(h.root, "var", "lib", "redflag", "state.json"))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(data, &st)
}

func (h *helmEnv) checkedInSince(mark time.Time) error {
	st, err := h.state()
	if err != nil {
		return err
	}
	if st.LastCheckIn == nil || !st.LastCheckIn.After(mark) {
		return fmt.Errorf("last check-in %v, last error %q", st.LastCheckIn, st.LastError)
	}
	return nil
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

// buildImage runs `go run ./hack/image` as `make image` does, for
// linux/amd64 with a throwaway release key, and returns the archive.
func buildImage(t *testing.T, dir, version string) string {
	t.Helper()
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
