//go:build linux

package nodetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/apttest"
	"github.com/redflag-io/redflag/test/testenv"
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
	// fleetSize hosts are enrolled, scanned, upgraded and kept checking in
	// through the helm upgrade; enough that two gateway replicas are likely
	// to split them, few enough that the test stays near two minutes.
	fleetSize = 3
)

// TestHelmChartOnTheNode installs the chart as a user would, on a real
// node: the manager image built by hack/image and imported into the
// node's containerd, `helm install --wait` (so the kubelet's probes pass
// for real, in a non-root container with a read-only root, talking to the
// API server with its ServiceAccount's token), then a host enrolled with
// the /install.sh the gateway serves through its NodePort Service on each
// of a few hosts, which turn Ready in `kubectl get agents`, scan, and are
// upgraded by a rollout. `helm upgrade` to a rebuilt image and a separate
// gateway Deployment rolls the pods while the hosts keep checking in and
// reporting (no failure they would not retry, no report lost); the two
// gateway pods share the fleet through a pod deletion; `helm uninstall`
// keeps the CRDs and leaves the hosts refused with an error that says so.
func TestHelmChartOnTheNode(t *testing.T) {
	apttest.Require(t) // the host's packages live in a sandbox apt root
	started := time.Now()
	tmp := t.TempDir()
	h := newHelmEnv(t, tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute) // a cold Go cache makes each image build minutes long
	defer cancel()

	nodeIP := h.nodeIP(ctx)

	// 1. The image, built as `make image` builds it, into the node.
	archive := builtImage(t, imageVersion)
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
	installArgs := []string{"install", helmRelease, chart, "--namespace", helmNamespace, "--create-namespace",
		"--set", "image.repository=" + imageRepo, "--set", "image.tag=" + imageVersion, "--set", "image.pullPolicy=Never",
		"--set", "gateway.service.type=NodePort", "--set", "gateway.dnsNames={" + nodeIP + "}",
		"--wait", "--timeout", "3m"}
	out := h.helm(installArgs...)
	h.transcript("helm "+strings.Join(installArgs, " "), out)
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
	h.enrollHosts(ctx, string(script), fleetSize)
	t.Logf("%d hosts enrolled and Ready after %s", fleetSize, time.Since(started).Round(time.Second))

	// Check in every 5s from now on, so the hosts' check-ins span the
	// upgrade below.
	if err := h.patchAgents(ctx, func(a *redflagv1.Agent) {
		a.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second}
	}); err != nil {
		t.Fatal(err)
	}
	mark := time.Now()
	h.waitFor(ctx, 90*time.Second, "a check-in of every host at the new 5s interval", func() error {
		return h.checkedInSince(mark)
	})
	// Two successive check-ins at most ~10s apart: the interval took.
	mark = time.Now()
	h.waitFor(ctx, 20*time.Second, "every host's next check-in within 20s", func() error {
		return h.checkedInSince(mark)
	})

	// The hosts scan and a rollout upgrades them, all through the chart's
	// gateway.
	h.scanAndRollOut(ctx)
	t.Logf("hosts scanned and upgraded by a rollout after %s", time.Since(started).Round(time.Second))

	// 4. helm upgrade to a rebuilt image and a separate gateway: the pods
	// roll to Ready while the hosts keep checking in and reporting. A new
	// version in every host's repository first, so the scans the watcher
	// asks for meanwhile change each Agent's inventory: a report lost in
	// the roll would leave it at 2.0.
	for _, hs := range h.hosts {
		hs.apt.Publish(t, 0, apttest.Package{Name: "redflag-demo", Version: "3.0"})
	}
	upgradeStart := time.Now()
	stopWatch := make(chan struct{})
	watched := make(chan fleetWatch, 1)
	h.ctr("-n", "k8s.io", "images", "import", builtImage(t, rebuiltVersion))
	h.image = imageRepo + ":" + rebuiltVersion
	go func() { watched <- h.watchFleet(ctx, stopWatch) }()
	h.helm("upgrade", helmRelease, chart, "--namespace", helmNamespace, "--reuse-values",
		"--set", "image.tag="+rebuiltVersion, "--set", "gateway.separate=true", "--wait", "--timeout", "3m")
	close(stopWatch)
	w := <-watched
	t.Logf("helm upgrade done after %s (%s): %d hosts checked in %d times meanwhile and were asked for %d scans; failed %d times %q; the gateway Service had no serving endpoint for %s",
		time.Since(started).Round(time.Second), time.Since(upgradeStart).Round(time.Second), fleetSize, w.checkIns, w.scanNows,
		len(w.errors), w.errors, w.noEndpoints.Round(100*time.Millisecond))
	// They kept checking in while the pods rolled, and the Service always
	// had a pod serving the gateway behind it: every pod that serves it
	// carries the label the Service selects, so the old manager pod stays
	// until the new gateway pods are Ready (before, the selector moved at
	// once and the Service was empty for about 14 s: docs/node-cluster.md).
	if w.checkIns < fleetSize {
		t.Errorf("the hosts checked in %d times during the %s upgrade (failures: %q)", w.checkIns, time.Since(upgradeStart).Round(time.Second), w.errors)
	}
	for _, e := range w.errors {
		if !retryable.MatchString(e) {
			t.Errorf("a check-in failed in a way the host does not retry during the upgrade: %s", e)
		}
	}
	// The manager Deployment rolls on its own, so its new pod (which no
	// longer serves the gateway) can be Ready, and the old one told to
	// stop, a moment before the first gateway pod is Ready. Before
	// gateway.drainSeconds the old pod closed its listener at once and
	// the Service had no endpoint for up to 1.9 s; now the old pod serves
	// on, terminating, for 5 s. One 200 ms sample of slack.
	if w.noEndpoints > 200*time.Millisecond {
		t.Errorf("the gateway Service had no serving endpoint for %s during the upgrade", w.noEndpoints.Round(100*time.Millisecond))
	}
	var gw appsv1.Deployment
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: helmRelease + "-gateway"}, &gw); err != nil {
		t.Fatalf("no separate gateway Deployment after the upgrade: %v", err)
	}
	h.assertPodsReady(ctx, 3) // the manager and two gateway replicas
	// No report lost: every host's outbox is empty with nothing dropped,
	// and every Agent shows what the scans during the roll found, and
	// the last scan asked for as handled.
	mark = time.Now()
	h.waitFor(ctx, 60*time.Second, "a check-in of every host to the separate gateway", func() error {
		return h.checkedInSince(mark)
	})
	h.waitPending(ctx, "3.0", w.lastScanNow)
	for _, hs := range h.hosts {
		var agent redflagv1.Agent
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: hs.name}, &agent); err != nil {
			t.Fatal(err)
		}
		if !meta.IsStatusConditionTrue(agent.Status.Conditions, "Ready") {
			t.Fatalf("Agent %s is not Ready after the upgrade: %+v", hs.name, agent.Status.Conditions)
		}
	}

	// The two gateway pods share the fleet: each announced itself to the
	// other, and when one goes away the other serves its share of the
	// hosts at once (a replica's agents move by rendezvous hashing).
	h.assertGatewaysShareTheFleet(ctx)
	t.Logf("gateway replicas shared the fleet across a pod deletion after %s", time.Since(started).Round(time.Second))

	// 5. helm uninstall keeps the CRDs (and so every Agent); the hosts'
	// check-ins are then refused, with an error that says where it went
	// and what that likely means.
	h.helm("uninstall", helmRelease, "--namespace", helmNamespace, "--wait", "--timeout", "2m")
	t.Logf("helm uninstall done after %s", time.Since(started).Round(time.Second))
	for _, crd := range []string{"agents", "registrationtokens", "scanschedules", "agentupdates"} {
		var c apiextensionsv1.CustomResourceDefinition
		if err := h.c.Get(ctx, client.ObjectKey{Name: crd + ".redflag.io"}, &c); err != nil || c.DeletionTimestamp != nil {
			t.Errorf("CRD %s.redflag.io after helm uninstall: %v (deleting: %v)", crd, err, c.DeletionTimestamp != nil)
		}
	}
	mark = time.Now()
	for _, hs := range h.hosts {
		var agent redflagv1.Agent
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: hs.name}, &agent); err != nil {
			t.Errorf("Agent %s after helm uninstall: %v", hs.name, err)
		}
		var refused string
		h.waitFor(ctx, 60*time.Second, "host "+hs.name+"'s check-in refused", func() error {
			st, err := hs.state()
			if err != nil {
				return err
			}
			if st.LastErrorAt == nil || !st.LastErrorAt.After(mark) || st.LastError == "" {
				return fmt.Errorf("no failed check-in since the uninstall (last check-in %v)", st.LastCheckIn)
			}
			refused = st.LastError
			return nil
		})
		want := "cannot reach the gateway at " + base + ": connection refused (nothing listens at that address: the RedFlag manager or its gateway Service may be stopped, moved or uninstalled"
		if !strings.Contains(refused, want) {
			t.Errorf("host %s's check-in error %q does not say %q", hs.name, refused, want)
		}
		if hs == h.hosts[0] {
			t.Logf("after helm uninstall the host reports: %s", refused)
		}
	}
	t.Logf("the whole test took %s", time.Since(started).Round(time.Second))
}
