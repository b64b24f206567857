package deploytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// liveState is what changes when the API server stores a write.
type liveState struct{ resourceVersion, generation string }

// readSamples reads the samples' live objects with kubectl, keyed
// kind/name (lower-case kind, as kubectl prints it).
func readSamples(c *cli, ns string) map[string]liveState {
	c.t.Helper()
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name            string      `json:"name"`
				ResourceVersion string      `json:"resourceVersion"`
				Generation      json.Number `json:"generation"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(c.kubectl("get", "-n", ns, "-f", "config/samples/", "-o", "json")), &list); err != nil {
		c.t.Fatalf("reading the samples back: %v", err)
	}
	out := map[string]liveState{}
	for _, it := range list.Items {
		out[strings.ToLower(it.Kind)+"/"+it.Metadata.Name] = liveState{it.Metadata.ResourceVersion, it.Metadata.Generation.String()}
	}
	return out
}

// appliedLines parses `kubectl apply` output ("kind.group/name verb") into
// kind/name -> verb.
func appliedLines(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		ref, verb, ok := strings.Cut(l, " ")
		kindGroup, name, ok2 := strings.Cut(ref, "/")
		if !ok || !ok2 {
			t.Fatalf("unexpected kubectl apply output line %q", l)
		}
		kind, _, _ := strings.Cut(kindGroup, ".")
		got[kind+"/"+name] = verb
	}
	return got
}

// TestGitOpsApplyIsIdempotent applies config/samples/ as a GitOps tool does
// (server-side apply, its own field manager) twice. The second apply must
// change nothing: no resourceVersion or generation moves, and `kubectl diff`
// finds nothing. A sample that omitted a field the API server defaults, or
// that the server rewrites, would show up here as a perpetual diff.
func TestGitOpsApplyIsIdempotent(t *testing.T) {
	c := newCLI(t)
	ensureCRDs(t, c)
	const ns = "gitops"
	ensureNamespace(t, ns)

	files, err := filepath.Glob(filepath.Join(repoRoot, "config", "samples", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	want := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := parseObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		// `kubectl apply -f dir` reads every file; one that is not an
		// object (a kustomization.yaml) makes the whole apply fail.
		if len(objs) == 0 || objs[0].GetKind() == "" {
			t.Fatalf("%s is not a Kubernetes object; `kubectl apply -f config/samples/` would refuse it", filepath.Base(f))
		}
		for _, o := range objs {
			want[strings.ToLower(o.GetKind())+"/"+o.GetName()] = true
		}
	}

	apply := []string{"apply", "--server-side", "--field-manager=gitops", "-n", ns, "-f", "config/samples/"}
	first := appliedLines(t, c.kubectl(apply...))
	if len(first) != len(want) {
		t.Fatalf("the first apply reported %v, want every sample %v", first, want)
	}
	before := readSamples(c, ns)

	second := appliedLines(t, c.kubectl(apply...))
	for obj := range want {
		if second[obj] != "serverside-applied" {
			t.Errorf("second apply: %s reported %q, want serverside-applied", obj, second[obj])
		}
	}
	after := readSamples(c, ns)
	for obj := range want {
		b, a := before[obj], after[obj]
		if b.resourceVersion == "" {
			t.Errorf("%s was not found after applying it", obj)
			continue
		}
		if b != a {
			t.Errorf("re-applying %s changed it: resourceVersion %s -> %s, generation %s -> %s", obj, b.resourceVersion, a.resourceVersion, b.generation, a.generation)
		}
	}

	res, err := c.run(nil, kubectlBin, "diff", "--server-side", "--field-manager=gitops", "-n", ns, "-f", "config/samples/")
	if err != nil {
		t.Fatal(err)
	}
	if res.exitCode != 0 || res.stdout != "" {
		t.Errorf("kubectl diff after applying the samples: exit %d (want 0, no differences)\n%s%s", res.exitCode, res.stdout, res.stderr)
	}
}
