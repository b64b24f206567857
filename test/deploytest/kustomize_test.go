package deploytest

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestKustomizeDefault builds config/default with kubectl's kustomize, checks
// that the pieces fit together (the Deployment runs as the ServiceAccount the
// ClusterRole is bound to, in redflag-system) and has the real API server
// accept every object in a strict server-side dry run.
func TestKustomizeDefault(t *testing.T) {
	c := newCLI(t)
	ensureCRDs(t, c)
	out := []byte(c.kubectl("kustomize", "config/default"))
	objs := mustParse(t, out)

	const ns = "redflag-system"
	one(t, objs, "Namespace", ns)
	if got := find(objs, "CustomResourceDefinition", ""); len(got) != len(redflagCRDs) {
		t.Errorf("want the %d CRDs, got %s", len(redflagCRDs), describe(got))
	}
	dep := one(t, objs, "Deployment", "redflag-controller-manager")
	sa := one(t, objs, "ServiceAccount", serviceAccountOf(dep))
	crb := one(t, objs, "ClusterRoleBinding", "redflag-manager-rolebinding")
	one(t, objs, "ClusterRole", "redflag-manager-role")
	one(t, objs, "Service", "redflag-gateway")
	for _, o := range []interface{ GetNamespace() string }{dep, sa} {
		if o.GetNamespace() != ns {
			t.Errorf("object in namespace %q, want %s", o.GetNamespace(), ns)
		}
	}
	subjects, _, _ := unstructured.NestedSlice(crb.Object, "subjects")
	if len(subjects) != 1 || subjects[0].(map[string]any)["name"] != sa.GetName() || subjects[0].(map[string]any)["namespace"] != ns {
		t.Errorf("the ClusterRoleBinding binds %v, not the manager's ServiceAccount %s/%s", subjects, ns, sa.GetName())
	}
	if ref, _, _ := unstructured.NestedString(crb.Object, "roleRef", "name"); ref != "redflag-manager-role" {
		t.Errorf("the ClusterRoleBinding refers to %q", ref)
	}
	assertRestricted(t, dep)
	assertArgs(t, dep, []string{"--leader-elect"}, []string{"--gateway", "--controllers"})

	// A dry run does not create the namespace it would create, so the
	// namespaced objects need it to exist already.
	ensureNamespace(t, ns)
	applied := c.kubectlIn(out, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
	lines := strings.Split(strings.TrimSpace(applied), "\n")
	if len(lines) != len(objs) {
		t.Errorf("kubectl accepted %d of %d objects:\n%s", len(lines), len(objs), applied)
	}
}
