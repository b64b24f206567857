package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// grant is one verb on one resource of one API group.
type grant struct{ group, resource, verb string }

func (g grant) String() string {
	group := g.group
	if group == "" {
		group = "core"
	}
	return fmt.Sprintf("%s %s/%s", g.verb, group, g.resource)
}

// scoped is a grant where it applies: cluster-wide (namespace "") or in one
// namespace, and to all objects (names nil) or only the named ones.
type scoped struct {
	grant
	namespace string
	names     []string
}

func (s scoped) String() string {
	where := "cluster-wide"
	if s.namespace != "" {
		where = "in " + s.namespace
	}
	if len(s.names) > 0 {
		where += " on " + strings.Join(s.names, ",")
	}
	return s.grant.String() + " " + where
}

// expand turns policy rules into grants, failing on what a least-privilege
// role must not contain: wildcards and non-resource URLs.
func expand(t *testing.T, rules []rbacv1.PolicyRule, namespace string) []scoped {
	t.Helper()
	var out []scoped
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			t.Errorf("rule grants non-resource URLs %v", r.NonResourceURLs)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if g == "*" || res == "*" || v == "*" {
						t.Errorf("rule uses a wildcard: groups %v resources %v verbs %v", r.APIGroups, r.Resources, r.Verbs)
					}
					out = append(out, scoped{grant{g, res, v}, namespace, r.ResourceNames})
				}
			}
		}
	}
	return out
}

// permissions are what each ServiceAccount of a rendering may do.
type permissions map[string][]scoped

// chartPermissions follows the rendered bindings to their roles.
func chartPermissions(t *testing.T, objs []*unstructured.Unstructured) permissions {
	t.Helper()
	roles := map[string][]rbacv1.PolicyRule{}
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, o := range find(objs, kind, "") {
			var r rbacv1.ClusterRole // Role has the same rules field
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				t.Fatalf("reading %s %s: %v", kind, o.GetName(), err)
			}
			roles[kind+"/"+o.GetName()] = r.Rules
		}
	}
	perms := permissions{}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, o := range find(objs, kind, "") {
			var b rbacv1.RoleBinding // ClusterRoleBinding has the same fields
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
				t.Fatalf("reading %s %s: %v", kind, o.GetName(), err)
			}
			rules, ok := roles[b.RoleRef.Kind+"/"+b.RoleRef.Name]
			if !ok {
				t.Errorf("%s %s refers to %s %s, which the chart does not render", kind, b.Name, b.RoleRef.Kind, b.RoleRef.Name)
				continue
			}
			ns := "" // a ClusterRoleBinding grants everywhere
			if kind == "RoleBinding" {
				ns = o.GetNamespace()
			}
			for _, s := range b.Subjects {
				if s.Kind != "ServiceAccount" {
					t.Errorf("%s %s binds a %s (%s); the chart should bind only its ServiceAccounts", kind, b.Name, s.Kind, s.Name)
					continue
				}
				perms[s.Name] = append(perms[s.Name], expand(t, rules, ns)...)
			}
		}
	}
	return perms
}

// generatedRole reads config/rbac/role.yaml: what the code's
// +kubebuilder:rbac markers ask for, all of it cluster-wide.
func generatedRole(t *testing.T) map[grant]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatalf("parsing config/rbac/role.yaml: %v", err)
	}
	set := map[grant]bool{}
	for _, s := range expand(t, role.Rules, "") {
		set[s.grant] = true
	}
	return set
}

var rbacMarker = regexp.MustCompile(`\+kubebuilder:rbac:groups=([^,]*),resources=([^,]+),verbs=([^\s,]+)`)

// markerGrants reads the +kubebuilder:rbac markers of one package: what that
// part of the code says it needs.
func markerGrants(t *testing.T, dir string) map[grant]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[grant]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rbacMarker.FindAllStringSubmatch(string(data), -1) {
			for _, g := range strings.Split(strings.Trim(m[1], `"`), ";") {
				for _, r := range strings.Split(m[2], ";") {
					for _, v := range strings.Split(m[3], ";") {
						set[grant{strings.Trim(g, `"`), r, v}] = true
					}
				}
			}
		}
	}
	if len(set) == 0 {
		t.Fatalf("no +kubebuilder:rbac markers found in %s", dir)
	}
	return set
}

// leaderElectionVerbs are the calls client-go's Lease lock makes (Get,
// Create, Update in tools/leaderelection/resourcelock/leaselock.go).
var leaderElectionVerbs = []string{"create", "get", "update"}

// peerLeaseVerbs are the calls gateway replicas make on their membership
// Leases (internal/gateway/peers.go: renew, refresh, withdraw, forget).
var peerLeaseVerbs = []string{"create", "delete", "get", "list", "update"}

// deploymentArg returns the value of --name=value among a Deployment's args.
func deploymentArg(t *testing.T, d *unstructured.Unstructured, name string) string {
	t.Helper()
	for _, a := range args(t, d) {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	t.Fatalf("deployment %s has no %s flag", d.GetName(), name)
	return ""
}

func serviceAccountOf(d *unstructured.Unstructured) string {
	sa, _, _ := unstructured.NestedString(d.Object, "spec", "template", "spec", "serviceAccountName")
	return sa
}

// TestChartRBACIsLeastPrivilege compares what the chart's RBAC grants each
// ServiceAccount with what the code asks for in its +kubebuilder:rbac
// markers (config/rbac/role.yaml, and internal/gateway's own markers for
// the separate gateway): nothing beyond it, Leases only where leader
// election happens, and the separate gateway without cluster-wide Secrets;
// and nothing the manager needs missing.
func TestChartRBACIsLeastPrivilege(t *testing.T) {
	c := newCLI(t)
	const ns = "redflag-system"
	generated := generatedRole(t)
	leases := grant{"coordination.k8s.io", "leases", ""}

	for name, set := range map[string][]string{
		"one deployment":   nil,
		"separate gateway": {"--set", "gateway.separate=true"},
	} {
		t.Run(name, func(t *testing.T) {
			c.t = t
			objs := mustParse(t, c.template(chartDir, ns, set...))
			perms := chartPermissions(t, objs)
			mgr := one(t, objs, "Deployment", "redflag")
			mgrSA := serviceAccountOf(mgr)

			// Log the whole grant table: it is what a reviewer reads.
			for sa, ps := range perms {
				lines := make([]string, 0, len(ps))
				for _, p := range ps {
					lines = append(lines, "  "+p.String())
				}
				sort.Strings(lines)
				t.Logf("ServiceAccount %s may:\n%s", sa, strings.Join(lines, "\n"))
			}

			// Nothing beyond the generated role, for any ServiceAccount.
			for sa, ps := range perms {
				for _, p := range ps {
					if !generated[p.grant] {
						t.Errorf("%s: the chart grants %s, which config/rbac/role.yaml (the code's markers) does not ask for", sa, p)
					}
					if p.resource == "leases" && p.namespace != ns {
						t.Errorf("%s: %s; Leases belong only in %s (leader election, gateway peers)", sa, p, ns)
					}
					if p.namespace != "" && p.resource != "leases" && p.resource != "secrets" {
						t.Errorf("%s: namespaced grant %s; the chart's Roles are for Leases and Secrets only", sa, p)
					}
				}
			}

			// The manager gets everything the markers ask for (but Leases)
			// everywhere, and exactly leader election's Lease verbs at home.
			has := func(sa string, g grant, namespace string, name string) bool {
				for _, p := range perms[sa] {
					if p.grant == g && (p.namespace == "" || p.namespace == namespace) && (len(p.names) == 0 || slices.Contains(p.names, name)) {
						return true
					}
				}
				return false
			}
			for g := range generated {
				if g.resource != "leases" && !has(mgrSA, g, "tenant", "any") {
					t.Errorf("%s lacks %s cluster-wide, which the code's markers ask for", mgrSA, g)
				}
			}
			lease := deploymentArg(t, mgr, "--leader-election-id")
			for _, v := range leaderElectionVerbs {
				leases.verb = v
				if !generated[leases] {
					t.Errorf("config/rbac/role.yaml no longer grants %s, which leader election uses", leases)
				}
				if !has(mgrSA, leases, ns, lease) {
					t.Errorf("%s cannot %s its Lease %s in %s", mgrSA, v, lease, ns)
				}
			}
			servesHosts := set == nil // one Deployment: the manager is the gateway
			for _, p := range perms[mgrSA] {
				if p.resource == "leases" && !slices.Contains(leaderElectionVerbs, p.verb) && !(servesHosts && slices.Contains(peerLeaseVerbs, p.verb)) {
					t.Errorf("%s: %s, a verb neither leader election nor the gateway's peers use", mgrSA, p)
				}
			}
			peersOK := func(sa string) {
				for _, v := range peerLeaseVerbs {
					leases.verb = v
					if !has(sa, leases, ns, "redflag-gateway-some-pod") {
						t.Errorf("%s cannot %s the gateway replicas' Leases in %s", sa, v, ns)
					}
				}
			}
			if servesHosts {
				peersOK(mgrSA)
			}

			if set == nil {
				return
			}
			// The separate gateway: what internal/gateway's markers ask for,
			// its Secrets only in its own namespace and by name.
			gw := one(t, objs, "Deployment", "redflag-gateway")
			gwSA := serviceAccountOf(gw)
			if gwSA == mgrSA {
				t.Fatalf("the separate gateway runs as the manager's ServiceAccount %s", mgrSA)
			}
			own := []string{deploymentArg(t, gw, "--gateway-tls-secret"), deploymentArg(t, gw, "--work-signing-secret")}
			peersOK(gwSA)
			for g := range markerGrants(t, "internal/gateway") {
				if g.resource == "leases" {
					continue // checked by peersOK, in its namespace only
				}
				if g.resource == "secrets" {
					needs := own
					if g.verb == "update" {
						needs = own[:1] // it renews only its own certificate
					}
					for _, s := range needs {
						if !has(gwSA, g, ns, s) {
							t.Errorf("%s cannot %s Secret %s in %s", gwSA, g.verb, s, ns)
						}
					}
				} else if !has(gwSA, g, "tenant", "any") {
					t.Errorf("%s lacks %s cluster-wide, which internal/gateway's markers ask for", gwSA, g)
				}
			}
			for _, p := range perms[gwSA] {
				if p.resource == "secrets" && (p.namespace != ns || (p.verb == "update" && !slices.Equal(p.names, own[:1])) ||
					(p.verb != "create" && p.verb != "update" && !slices.Equal(p.names, own))) {
					t.Errorf("%s: %s; the gateway reads only its own Secrets %v in %s, and updates only its certificate's", gwSA, p, own, ns)
				}
				if p.resource == "leases" && !slices.Contains(peerLeaseVerbs, p.verb) {
					t.Errorf("%s: %s; the gateway does not elect a leader, it only keeps its peer Leases", gwSA, p)
				}
			}
		})
	}
}

// TestGeneratedRoleGrantsExactlyThis spells out every verb on every resource
// that config/rbac/role.yaml (the code's +kubebuilder:rbac markers) grants
// the manager. A marker that widens the role fails here until this list is
// changed with it, so the widening is in the diff a reviewer reads. Which
// part of the code asks for each group is noted beside it.
func TestGeneratedRoleGrantsExactlyThis(t *testing.T) {
	want := []string{
		// Events: every controller and the gateway record them.
		"create core/events", "patch core/events",
		"create events.k8s.io/events", "patch events.k8s.io/events",
		// Leader election (controllers/setup.go); the chart narrows these to
		// create, get and update on one Lease (TestChartRBACIsLeastPrivilege).
		"create coordination.k8s.io/leases", "delete coordination.k8s.io/leases", "get coordination.k8s.io/leases",
		"list coordination.k8s.io/leases", "patch coordination.k8s.io/leases", "update coordination.k8s.io/leases",
		"watch coordination.k8s.io/leases",
		// Token Secrets (RegistrationToken controller); the gateway's own
		// TLS and work-signing Secrets.
		"create core/secrets", "delete core/secrets", "get core/secrets", "list core/secrets",
		"patch core/secrets", "update core/secrets", "watch core/secrets",
		// The four kinds: the gateway creates Agents and writes their
		// status; the controllers reconcile all four (finalizers, status,
		// spec.desiredVersion of a rollout's Agents).
		"create redflag.io/agents", "get redflag.io/agents", "list redflag.io/agents",
		"patch redflag.io/agents", "update redflag.io/agents", "watch redflag.io/agents",
		"update redflag.io/agents/finalizers",
		"get redflag.io/agents/status", "patch redflag.io/agents/status", "update redflag.io/agents/status",
		"get redflag.io/agentupdates", "list redflag.io/agentupdates", "patch redflag.io/agentupdates",
		"update redflag.io/agentupdates", "watch redflag.io/agentupdates",
		"get redflag.io/agentupdates/status", "patch redflag.io/agentupdates/status", "update redflag.io/agentupdates/status",
		"get redflag.io/registrationtokens", "list redflag.io/registrationtokens", "patch redflag.io/registrationtokens",
		"update redflag.io/registrationtokens", "watch redflag.io/registrationtokens",
		"update redflag.io/registrationtokens/finalizers",
		"get redflag.io/registrationtokens/status", "patch redflag.io/registrationtokens/status",
		"update redflag.io/registrationtokens/status",
		"get redflag.io/scanschedules", "list redflag.io/scanschedules", "watch redflag.io/scanschedules",
		"get redflag.io/scanschedules/status", "patch redflag.io/scanschedules/status", "update redflag.io/scanschedules/status",
	}
	var got []string
	for g := range generatedRole(t) {
		got = append(got, g.String())
	}
	sort.Strings(got)
	sort.Strings(want)
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("config/rbac/role.yaml grants %s, which this list does not: a marker widened the manager's role", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("config/rbac/role.yaml no longer grants %s: take it off this list", w)
		}
	}
}
