package deploytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies a directory tree (the chart) so a test can change it.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// canI asks the API server's authorizer, as `kubectl auth can-i` does,
// whether a ServiceAccount may do something.
func canI(c *cli, sa, ns string, args ...string) bool {
	c.t.Helper()
	res, err := c.run(nil, kubectlBin, append([]string{"auth", "can-i", "--as=system:serviceaccount:" + sa}, append(args, "-n", ns)...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.exitCode > 1 {
		c.t.Fatalf("kubectl auth can-i %v: exit %d: %s", args, res.exitCode, res.stderr)
	}
	return res.exitCode == 0
}

// TestHelmInstallUpgradeUninstall installs the chart into an empty cluster,
// upgrades it to a new chart version (a changed CRD) with a changed value
// (the separate gateway), uninstalls it, and installs it again: what an
// operator does over a release's life. No --wait: envtest has no kubelet,
// so no pod ever runs.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	c := newCLI(t)
	const ns, release = "redflag-helm", "redflag"
	// A fresh cluster has no RedFlag CRDs; testenv installed them, so they
	// go first. The chart must create them itself.
	c.kubectl(append([]string{"delete", "crd", "--ignore-not-found", "--wait=true", "--timeout=60s"}, redflagCRDs...)...)
	t.Cleanup(func() { ensureCRDs(t, c) })

	out := c.helm("install", release, chartDir, "--namespace", ns, "--create-namespace")
	for _, want := range []string{"STATUS: deployed", "kind: RegistrationToken", "/install.sh | sh -s -- --token", "redflag-gateway-tls"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install output (NOTES) lacks %q:\n%s", want, out)
		}
	}
	c.kubectl(append([]string{"wait", "--for=condition=Established", "--timeout=60s", "crd"}, redflagCRDs...)...)
	c.kubectl("-n", ns, "get", "deployment/redflag", "service/redflag-gateway", "service/redflag-metrics", "serviceaccount/redflag",
		"role/redflag-leader-election", "rolebinding/redflag-leader-election")
	c.kubectl("get", "clusterrole/redflag-manager", "clusterrolebinding/redflag-manager", "clusterrole/redflag-token-secrets", "clusterrolebinding/redflag-token-secrets")

	// The API server's authorizer agrees with what the chart means to
	// grant: leader election only at home, token Secrets anywhere.
	mgrSA := ns + ":redflag"
	if !canI(c, mgrSA, ns, "update", "leases/redflag-manager") {
		t.Error("the manager may not renew its leader-election Lease")
	}
	if canI(c, mgrSA, "default", "create", "leases") {
		t.Error("the manager may create Leases outside its namespace")
	}
	if !canI(c, mgrSA, "tenant-a", "create", "secrets") || !canI(c, mgrSA, "tenant-a", "update", "registrationtokens.redflag.io/status") {
		t.Error("the manager may not write token Secrets or token status in a tenant namespace")
	}
	if canI(c, mgrSA, "tenant-a", "delete", "agents.redflag.io") {
		t.Error("the manager may delete Agents, which nothing in it does")
	}

	// A user's object, which no uninstall may take away.
	c.kubectl("create", "namespace", "tenant-a")
	c.kubectl("apply", "-n", "tenant-a", "-f", "config/samples/redflag_v1alpha1_registrationtoken.yaml")

	// Upgrade to a "new chart version" whose Agent CRD gained a short name,
	// with the gateway split out. The CRD change must reach the cluster:
	// that is why the CRDs are templates and not Helm's crds/ directory.
	next := filepath.Join(t.TempDir(), "redflag")
	copyDir(t, filepath.Join(repoRoot, chartDir), next)
	agentCRD := filepath.Join(next, "files", "crds", "redflag.io_agents.yaml")
	data, err := os.ReadFile(agentCRD)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(data), "    shortNames:\n    - ag\n", "    shortNames:\n    - ag\n    - rfagent\n", 1)
	if changed == string(data) {
		t.Fatal("the Agent CRD no longer has the short name list this test extends")
	}
	if err := os.WriteFile(agentCRD, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	c.helm("upgrade", release, next, "--namespace", ns, "--reuse-values", "--set", "gateway.separate=true")
	if got := c.kubectl("get", "crd", "agents.redflag.io", "-o", "jsonpath={.spec.names.shortNames}"); !strings.Contains(got, "rfagent") {
		t.Errorf("helm upgrade did not update the Agent CRD: short names %s", got)
	}
	c.kubectl("-n", ns, "get", "deployment/redflag-gateway", "serviceaccount/redflag-gateway", "role/redflag-gateway-secrets", "poddisruptionbudget/redflag-gateway")
	var mgr struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Args []string `json:"args"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(c.kubectl("-n", ns, "get", "deployment/redflag", "-o", "json")), &mgr); err != nil {
		t.Fatalf("reading the manager Deployment: %v", err)
	}
	if a := mgr.Spec.Template.Spec.Containers[0].Args; !strings.Contains(strings.Join(a, " "), "--gateway=false") {
		t.Errorf("after the upgrade the manager still runs the gateway: args %q", a)
	}
	gwSA := ns + ":redflag-gateway"
	if canI(c, gwSA, "tenant-a", "get", "secrets") || canI(c, gwSA, ns, "list", "secrets") {
		t.Error("the separate gateway may read Secrets beyond its own two")
	}
	if !canI(c, gwSA, ns, "get", "secrets/redflag-work-signing") || !canI(c, gwSA, "tenant-a", "create", "agents.redflag.io") {
		t.Error("the separate gateway may not read its signing key or enroll Agents")
	}

	// Uninstall: the release's objects go, the CRDs (and so the user's
	// token) stay.
	out = c.helm("uninstall", release, "--namespace", ns)
	if !strings.Contains(out, "kept due to the resource policy") {
		t.Errorf("helm uninstall did not report keeping the CRDs:\n%s", out)
	}
	c.kubectl(append([]string{"get", "crd"}, redflagCRDs...)...)
	c.kubectl("-n", "tenant-a", "get", "registrationtoken/web-servers")
	for _, gone := range [][]string{
		{"-n", ns, "get", "deployment/redflag"},
		{"-n", ns, "get", "deployment/redflag-gateway"},
		{"get", "clusterrole/redflag-manager"},
	} {
		res, err := c.run(nil, kubectlBin, gone...)
		if err != nil {
			t.Fatal(err)
		}
		if res.exitCode == 0 || !strings.Contains(res.stderr, "NotFound") {
			t.Errorf("kubectl %s after uninstall: exit %d, %s", strings.Join(gone, " "), res.exitCode, res.stderr)
		}
	}

	// Installing again adopts the kept CRDs (same release) instead of
	// failing on them.
	c.helm("install", release, chartDir, "--namespace", ns)
	c.helm("uninstall", release, "--namespace", ns)
}
