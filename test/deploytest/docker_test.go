package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileBuildsTheManager checks the Dockerfile without building it
// (no registry is reachable to pull the base images): it copies every
// package the manager is built from, builds it the way the Makefile does,
// and runs it as the non-root user the chart's securityContext expects.
func TestDockerfileBuildsTheManager(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(data)

	// Every package of this module that the manager imports must be in a
	// directory the build stage copies, or the image build fails.
	var copied []string
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) `).FindAllStringSubmatch(dockerfile, -1) {
		if !strings.HasPrefix(m[1], "--") { // COPY --from=build is the final stage's
			copied = append(copied, strings.TrimSuffix(m[1], "/"))
		}
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", ".")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(repoRoot, dir)
		if err != nil {
			t.Fatal(err)
		}
		if rel == "." {
			continue // main.go, copied by name
		}
		top := strings.Split(rel, string(filepath.Separator))[0]
		found := false
		for _, c := range copied {
			found = found || c == top
		}
		if !found {
			t.Errorf("the manager imports %s, but the Dockerfile copies only %v", rel, copied)
		}
	}

	// The version flag the Makefile sets must be the one the image sets.
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	versionFlag := regexp.MustCompile(`-X (\S+)=\$\(VERSION\)`).FindStringSubmatch(string(mk))
	if versionFlag == nil {
		t.Fatal("the Makefile's LDFLAGS no longer set the version with -X ...=$(VERSION)")
	}
	for _, want := range []string{
		"FROM --platform=$BUILDPLATFORM golang:1.26 AS build",
		"CGO_ENABLED=0",
		"-trimpath",
		"-X " + versionFlag[1] + "=${VERSION}",
		"FROM gcr.io/distroless/static:nonroot",
		"USER 65532:65532",
		`ENTRYPOINT ["/redflag-manager"]`,
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	// .dockerignore keeps the context to what is copied.
	ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range copied {
		if c != "." && !strings.Contains(string(ignore), "!"+c) {
			t.Errorf(".dockerignore excludes %s, which the Dockerfile copies", c)
		}
	}
}
