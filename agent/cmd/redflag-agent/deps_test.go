package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowedKubernetes are the only Kubernetes packages the agent may link:
// apimachinery's label-syntax checks (internal/protocol.ValidateLabels),
// two small leaves with no dependencies beyond the standard library, so a
// host's labels are judged by the very rules the API server applies.
var allowedKubernetes = []string{
	"k8s.io/apimachinery/pkg/api/validate/constraints",
	"k8s.io/apimachinery/pkg/api/validate/content",
}

// forbidden says why the agent must not link pkg, or "" when it may.
func forbidden(pkg string) string {
	switch {
	case slices.Contains(allowedKubernetes, pkg):
		return ""
	case strings.HasPrefix(pkg, "github.com/redflag-io/redflag/api/"):
		return "the API types (the agent speaks internal/protocol's wire types; the gateway converts)"
	case strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/"):
		return "a Kubernetes package (controller-runtime, client-go and the API machinery stay in the manager)"
	}
	return ""
}

// TestAgentLinksNoKubernetes: the agent binary, for Linux and for Windows,
// links neither the API types nor controller-runtime, client-go, k8s.io/api
// or any other Kubernetes package beyond allowedKubernetes. They made it
// some 80 packages larger, and tied what hosts send to the API types. On
// failure the test prints who imports the offending package, from main.
func TestAgentLinksNoKubernetes(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test lists the agent's imports with the go command: %v", err)
	}
	for _, goos := range []string{"linux", "windows"} {
		t.Run(goos, func(t *testing.T) {
			cmd := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", ".")
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps for %s: %v\n%s", goos, err, stderrOf(err))
			}
			imports := map[string][]string{}
			var main string
			for line := range strings.Lines(string(out)) {
				fields := strings.Fields(line)
				if len(fields) == 0 {
					continue
				}
				imports[fields[0]] = fields[1:]
				main = fields[0] // -deps lists the named package last
			}
			if !strings.HasSuffix(main, "/agent/cmd/redflag-agent") {
				t.Fatalf("go list did not end with the agent's main package but %q", main)
			}
			var bad []string
			for pkg := range imports {
				if forbidden(pkg) != "" {
					bad = append(bad, pkg)
				}
			}
			slices.Sort(bad)
			// One import usually drags in dozens; the first few chains
			// name the culprit.
			if len(bad) > 8 {
				t.Errorf("the %s agent links %d forbidden packages; the first 8:", goos, len(bad))
			}
			for _, pkg := range bad[:min(len(bad), 8)] {
				t.Errorf("the %s agent links %s, %s; imported along %s", goos, pkg, forbidden(pkg), strings.Join(chain(imports, main, pkg), " -> "))
			}
			t.Logf("%s: %d packages linked, %d forbidden", goos, len(imports), len(bad))
		})
	}
}

// chain is a shortest import path from from to to.
func chain(imports map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var path []string
			for ; p != ""; p = prev[p] {
				path = append(path, p)
			}
			slices.Reverse(path)
			return path
		}
		for _, q := range imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return []string{"(no import path found)"}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
