package deploytest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const allValues = "test/deploytest/testdata/values-all.yaml"

// TestHelmLint lints the chart as `helm lint --strict` would in CI, for the
// default values, the separate gateway, and every optional feature on.
func TestHelmLint(t *testing.T) {
	c := newCLI(t)
	for name, args := range map[string][]string{
		"defaults":         nil,
		"separate gateway": {"--set", "gateway.separate=true"},
		"everything on":    {"-f", allValues},
	} {
		t.Run(name, func(t *testing.T) {
			c.t = t
			out := c.helm(append([]string{"lint", "--strict", "--kube-version", kubeVersion, chartDir}, args...)...)
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("helm lint did not report success:\n%s", out)
			}
		})
	}
}

// TestValuesSchemaRejectsMistakes checks that values.schema.json turns
// typical mistakes into errors that name the value, instead of a chart that
// silently ignores them.
func TestValuesSchemaRejectsMistakes(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		set, want string
	}{
		{"replicas=2", "additional properties 'replicas' not allowed"}, // belongs under manager
		{"gateway.seperate=true", "additional properties 'seperate' not allowed"},
		{"manager.replicas=two", "/manager/replicas"},
		{"crds.keep=maybe", "/crds/keep"},
		{"gateway.service.type=Ingress", "/gateway/service/type"},
		{"gateway.publicURL=http://redflag.example.com", "/gateway/publicURL"},
		{"image.pullPolicy=Sometimes", "/image/pullPolicy"},
		{"healthPort=70000", "/healthPort"},
		{"releases.publicKey=not-a-key", "/releases/publicKey"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			res, err := c.run(nil, helmBin, "template", "redflag", chartDir, "--kube-version", kubeVersion, "--set", tc.set)
			if err != nil {
				t.Fatal(err)
			}
			if res.exitCode == 0 {
				t.Fatalf("helm template --set %s succeeded; the schema should refuse it", tc.set)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("helm template --set %s failed without naming %q:\n%s", tc.set, tc.want, res.stderr)
			}
		})
	}
}

// container returns a Deployment's only container.
func container(t *testing.T, d *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("deployment %s has %d containers, want 1", d.GetName(), len(cs))
	}
	return cs[0].(map[string]any)
}

func args(t *testing.T, d *unstructured.Unstructured) []string {
	t.Helper()
	a, _, _ := unstructured.NestedStringSlice(container(t, d), "args")
	return a
}

// assertArgs checks a Deployment's flags: each of want is present, none of
// absent is.
func assertArgs(t *testing.T, d *unstructured.Unstructured, want, absent []string) {
	t.Helper()
	got := args(t, d)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("deployment %s: want flag %s, got %q", d.GetName(), w, got)
		}
	}
	for _, a := range absent {
		for _, g := range got {
			if g == a || strings.HasPrefix(g, a+"=") {
				t.Errorf("deployment %s: flag %s must not be set, got %q", d.GetName(), a, got)
			}
		}
	}
}

// assertRestricted checks the restricted Pod Security Standard settings and
// the probes on one Deployment.
func assertRestricted(t *testing.T, d *unstructured.Unstructured) {
	t.Helper()
	pod, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	c := container(t, d)
	for _, check := range []struct {
		obj   map[string]any
		path  []string
		value any
	}{
		{pod, []string{"securityContext", "runAsNonRoot"}, true},
		{pod, []string{"securityContext", "seccompProfile", "type"}, "RuntimeDefault"},
		{c, []string{"securityContext", "runAsNonRoot"}, true},
		{c, []string{"securityContext", "readOnlyRootFilesystem"}, true},
		{c, []string{"securityContext", "allowPrivilegeEscalation"}, false},
		{c, []string{"securityContext", "seccompProfile", "type"}, "RuntimeDefault"},
		{c, []string{"livenessProbe", "httpGet", "path"}, "/healthz"},
		{c, []string{"livenessProbe", "httpGet", "port"}, "health"},
		{c, []string{"readinessProbe", "httpGet", "path"}, "/readyz"},
		{c, []string{"readinessProbe", "httpGet", "port"}, "health"},
	} {
		got, found, _ := unstructured.NestedFieldNoCopy(check.obj, check.path...)
		if !found || got != check.value {
			t.Errorf("deployment %s: %s = %v, want %v", d.GetName(), strings.Join(check.path, "."), got, check.value)
		}
	}
	drop, _, _ := unstructured.NestedStringSlice(c, "securityContext", "capabilities", "drop")
	if !slices.Equal(drop, []string{"ALL"}) {
		t.Errorf("deployment %s: capabilities.drop = %q, want [ALL]", d.GetName(), drop)
	}
	// The health port the probes use must be the one the manager binds.
	ports, _, _ := unstructured.NestedSlice(c, "ports")
	var healthPort int64
	for _, p := range ports {
		if p.(map[string]any)["name"] == "health" {
			healthPort = p.(map[string]any)["containerPort"].(int64)
		}
	}
	assertArgs(t, d, []string{"--health-probe-bind-address=:" + strconv.FormatInt(healthPort, 10)}, nil)
	if _, found, _ := unstructured.NestedMap(c, "resources", "requests"); !found {
		t.Errorf("deployment %s has no resource requests", d.GetName())
	}
}

// selector returns a Service's selector.
// assertDrains checks that the Deployment's pods keep serving for seconds
// after they are told to stop (a preStop sleep; none for 0), within a
// grace period that leaves the manager its own 30 s after that.
func assertDrains(t *testing.T, d *unstructured.Unstructured, seconds int64) {
	t.Helper()
	got, found, _ := unstructured.NestedInt64(container(t, d), "lifecycle", "preStop", "sleep", "seconds")
	if seconds == 0 && found {
		t.Errorf("%s: preStop sleep of %d s, want none", d.GetName(), got)
	}
	if seconds != 0 && got != seconds {
		t.Errorf("%s: preStop sleep %d s (found %v), want %d", d.GetName(), got, found, seconds)
	}
	grace, _, _ := unstructured.NestedInt64(d.Object, "spec", "template", "spec", "terminationGracePeriodSeconds")
	if grace != 30+seconds {
		t.Errorf("%s: terminationGracePeriodSeconds %d, want %d", d.GetName(), grace, 30+seconds)
	}
}

func selector(t *testing.T, s *unstructured.Unstructured) map[string]string {
	t.Helper()
	sel, _, _ := unstructured.NestedStringMap(s.Object, "spec", "selector")
	return sel
}

func podLabels(d *unstructured.Unstructured) map[string]string {
	l, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	return l
}

// selects reports whether a Service selector matches a pod's labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestChartRendersBothTopologies checks what the templates produce for the
// choices a user makes, the way they would read `helm template` output.
func TestChartRendersBothTopologies(t *testing.T) {
	c := newCLI(t)
	const ns = "redflag-system"

	t.Run("defaults: one Deployment runs controllers and gateway", func(t *testing.T) {
		c.t = t
		objs := mustParse(t, c.template(chartDir, ns))
		if d := find(objs, "Deployment", ""); len(d) != 1 {
			t.Fatalf("want one Deployment, got %s", describe(d))
		}
		mgr := one(t, objs, "Deployment", "redflag")
		assertRestricted(t, mgr)
		// No release flags: the manager serves the release bundled in its
		// image (release.Choose).
		assertArgs(t, mgr, []string{"--leader-elect", "--namespace=" + ns, "--gateway-bind-address=:9443", "--gateway-tls-secret=redflag-gateway-tls", "--work-signing-secret=redflag-work-signing"},
			[]string{"--gateway", "--controllers", "--release-dir", "--release-public-key"})
		// The collector's soft limit: 90% of the container's 512Mi.
		envs, _, _ := unstructured.NestedSlice(container(t, mgr), "env")
		if !slices.ContainsFunc(envs, func(e any) bool {
			m := e.(map[string]any)
			return m["name"] == "GOMEMLIMIT" && m["value"] == "483183820"
		}) {
			t.Errorf("the manager has no GOMEMLIMIT of 90%% of its 512Mi limit: env %v", envs)
		}
		assertDrains(t, mgr, 5)
		svc := one(t, objs, "Service", "redflag-gateway")
		if !selects(selector(t, svc), podLabels(mgr)) {
			t.Errorf("the gateway Service (selector %v) does not select the manager's pods (%v)", selector(t, svc), podLabels(mgr))
		}
		one(t, objs, "Service", "redflag-metrics")
		for _, kind := range []string{"Ingress", "PodDisruptionBudget", "Certificate", "ServiceMonitor"} {
			if got := find(objs, kind, ""); len(got) != 0 {
				t.Errorf("%s rendered though its feature is off by default", kind)
			}
		}
		crds := find(objs, "CustomResourceDefinition", "")
		if len(crds) != len(redflagCRDs) {
			t.Fatalf("want %d CRDs, got %s", len(redflagCRDs), describe(crds))
		}
		for _, crd := range crds {
			if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
				t.Errorf("CRD %s lacks helm.sh/resource-policy: keep (annotations %v)", crd.GetName(), crd.GetAnnotations())
			}
		}
	})

	t.Run("crds.keep=false and crds.enabled=false", func(t *testing.T) {
		c.t = t
		for _, crd := range find(mustParse(t, c.template(chartDir, ns, "--set", "crds.keep=false")), "CustomResourceDefinition", "") {
			if _, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
				t.Errorf("CRD %s keeps a resource policy with crds.keep=false", crd.GetName())
			}
		}
		if got := find(mustParse(t, c.template(chartDir, ns, "--set", "crds.enabled=false")), "CustomResourceDefinition", ""); len(got) != 0 {
			t.Errorf("crds.enabled=false still renders %s", describe(got))
		}
	})

	t.Run("separate gateway", func(t *testing.T) {
		c.t = t
		objs := mustParse(t, c.template(chartDir, ns, "--set", "gateway.separate=true"))
		mgr := one(t, objs, "Deployment", "redflag")
		gw := one(t, objs, "Deployment", "redflag-gateway")
		assertRestricted(t, mgr)
		assertRestricted(t, gw)
		assertArgs(t, mgr, []string{"--leader-elect", "--gateway=false"}, []string{"--gateway-bind-address", "--controllers"})
		assertArgs(t, gw, []string{"--controllers=false", "--gateway-bind-address=:9443", "--gateway-tls-secret=redflag-gateway-tls"}, []string{"--leader-elect", "--gateway"})
		assertDrains(t, gw, 5)
		assertDrains(t, mgr, 0) // it serves no host
		if r, _, _ := unstructured.NestedInt64(gw.Object, "spec", "replicas"); r != 2 {
			t.Errorf("gateway replicas = %d, want the default 2", r)
		}
		svc := one(t, objs, "Service", "redflag-gateway")
		if !selects(selector(t, svc), podLabels(gw)) || selects(selector(t, svc), podLabels(mgr)) {
			t.Errorf("the gateway Service (selector %v) must select the gateway's pods (%v) and not the manager's (%v)", selector(t, svc), podLabels(gw), podLabels(mgr))
		}
		pdb := one(t, objs, "PodDisruptionBudget", "redflag-gateway")
		sel, _, _ := unstructured.NestedStringMap(pdb.Object, "spec", "selector", "matchLabels")
		if !selects(sel, podLabels(gw)) {
			t.Errorf("the gateway PDB (selector %v) does not select the gateway's pods", sel)
		}
		if sa, _, _ := unstructured.NestedString(gw.Object, "spec", "template", "spec", "serviceAccountName"); sa != "redflag-gateway" {
			t.Errorf("the gateway runs as %q, want its own ServiceAccount redflag-gateway", sa)
		}
	})

	t.Run("gateway.drainSeconds=0", func(t *testing.T) {
		c.t = t
		assertDrains(t, one(t, mustParse(t, c.template(chartDir, ns, "--set", "gateway.drainSeconds=0")), "Deployment", "redflag"), 0)
	})

	t.Run("everything on", func(t *testing.T) {
		c.t = t
		objs := mustParse(t, c.template(chartDir, ns, "-f", allValues))
		gw := one(t, objs, "Deployment", "redflag-gateway")
		assertArgs(t, gw, []string{"--gateway-public-url=https://redflag.example.com", "--zap-log-level=info"}, nil)
		mgr := one(t, objs, "Deployment", "redflag")
		assertArgs(t, mgr, []string{"--zap-encoder=json", "--zap-log-level=debug"}, nil)
		if img, _, _ := unstructured.NestedString(container(t, mgr), "image"); img != "registry.example.com/redflag/redflag-manager:v0.1.0-rc.1" {
			t.Errorf("image = %q", img)
		}
		cert := one(t, objs, "Certificate", "redflag-gateway")
		if s, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName"); s != "redflag-gateway-tls" {
			t.Errorf("the Certificate writes %q, not the Secret the gateway serves from", s)
		}
		dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
		ips, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "ipAddresses")
		for _, want := range []string{"redflag.example.com", "redflag-gateway.redflag-system.svc", "redflag.internal.example.com"} {
			if !slices.Contains(dns, want) {
				t.Errorf("Certificate dnsNames %q lack %s", dns, want)
			}
		}
		if !slices.Equal(ips, []string{"10.0.0.10"}) {
			t.Errorf("Certificate ipAddresses = %q, want [10.0.0.10]", ips)
		}
		// With cert-manager the pods must wait for its Secret, or the
		// manager would self-sign into it first.
		vols, _, _ := unstructured.NestedSlice(gw.Object, "spec", "template", "spec", "volumes")
		if len(vols) != 2 || vols[0].(map[string]any)["secret"].(map[string]any)["secretName"] != "redflag-gateway-tls" {
			t.Errorf("the gateway pods do not mount (and so wait for) the cert-manager Secret: volumes %v", vols)
		}
		// The operator's release store replaces the bundled one, read-only,
		// in the pods that serve hosts only.
		if len(vols) == 2 && vols[1].(map[string]any)["persistentVolumeClaim"].(map[string]any)["claimName"] != "redflag-releases" {
			t.Errorf("the release store's volume is %v, want the claim redflag-releases", vols[1])
		}
		mounts, _, _ := unstructured.NestedSlice(container(t, gw), "volumeMounts")
		if !slices.ContainsFunc(mounts, func(m any) bool {
			mm := m.(map[string]any)
			return mm["name"] == "releases" && mm["mountPath"] == "/var/lib/redflag/releases" && mm["readOnly"] == true
		}) {
			t.Errorf("the gateway does not mount the release store read-only at /var/lib/redflag/releases: %v", mounts)
		}
		assertArgs(t, gw, []string{"--release-dir=/var/lib/redflag/releases", "--release-public-key=3x0Lr3WXj0DeaEzSs6jOh0g0pyiOBCd4mgHZDoCqM0o="}, nil)
		assertArgs(t, mgr, nil, []string{"--release-dir", "--release-public-key"})
		ing := one(t, objs, "Ingress", "redflag-gateway")
		if ing.GetAnnotations()["nginx.ingress.kubernetes.io/ssl-passthrough"] != "true" {
			t.Errorf("the Ingress does not ask for TLS passthrough: %v", ing.GetAnnotations())
		}
		one(t, objs, "PodDisruptionBudget", "redflag")
		one(t, objs, "PodDisruptionBudget", "redflag-gateway")
		sm := one(t, objs, "ServiceMonitor", "redflag")
		if sm.GetLabels()["release"] != "prometheus" {
			t.Errorf("ServiceMonitor labels %v lack release=prometheus", sm.GetLabels())
		}
	})
}

// TestChartPassesServerDryRun sends the rendered chart, defaults and every
// option on, to the real API server with `kubectl apply --dry-run=server`
// and strict field validation: every object must match its schema there.
func TestChartPassesServerDryRun(t *testing.T) {
	c := newCLI(t)
	ensureCRDs(t, c)
	// cert-manager's and prometheus-operator's CRDs, reduced to what the
	// chart uses, so the Certificate and ServiceMonitor are checked too.
	c.kubectl("apply", "--server-side", "--field-manager=deploytest", "-f", "test/deploytest/testdata/thirdparty-crds.yaml")
	c.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/certificates.cert-manager.io", "crd/servicemonitors.monitoring.coreos.com")
	const ns = "redflag-dryrun"
	ensureNamespace(t, ns)
	for name, args := range map[string][]string{
		"defaults":      nil,
		"everything on": {"-f", allValues},
	} {
		t.Run(name, func(t *testing.T) {
			c.t = t
			manifest := c.template(chartDir, ns, args...)
			objs := mustParse(t, manifest)
			out := c.kubectlIn(manifest, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != len(objs) {
				t.Errorf("kubectl accepted %d objects of %d rendered:\n%s", len(lines), len(objs), out)
			}
			for _, l := range lines {
				if !strings.HasSuffix(l, "(server dry run)") {
					t.Errorf("unexpected kubectl output line %q", l)
				}
			}
		})
	}
}

// TestChartCRDsAreTheGeneratedOnes checks, inside `make test` as well as
// hack/verify.sh, that the chart ships exactly the CRDs controller-gen
// generates.
func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	want, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(want) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	got, err := filepath.Glob(filepath.Join(repoRoot, chartDir, "files", "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("the chart has %d CRD files, config/crd/bases %d: run hack/sync-chart-crds.sh", len(got), len(want))
	}
	for _, w := range want {
		a, errA := os.ReadFile(w)
		b, errB := os.ReadFile(filepath.Join(repoRoot, chartDir, "files", "crds", filepath.Base(w)))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: the chart's copy differs from config/crd/bases (run hack/sync-chart-crds.sh): %v %v", filepath.Base(w), errA, errB)
		}
	}
}
