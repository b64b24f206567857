package deploytest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/redflag-io/redflag/test/testenv"
)

// Shared by every test: one control plane, the admin kubeconfig for it and
// the two tools.
var (
	env        *testenv.Env
	kubeconfig []byte
	repoRoot   string
	helmBin    string
	kubectlBin string
)

// kubeVersion is what `helm template` renders for. The helm that
// hack/tool.sh builds carries no version stamp and would default to 1.20;
// this is the version hack/envtest/go.mod pins.
const kubeVersion = "1.37.2"

// chartDir is the chart under test, relative to the repository root.
const chartDir = "charts/redflag"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "deploytest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	return m.Run()
}

func setup() error {
	root, err := filepath.Abs(testenv.RepoRoot())
	if err != nil {
		return fmt.Errorf("finding the repository root: %w", err)
	}
	repoRoot = root
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/envtest.sh)")
	}
	kubectlBin = filepath.Join(assets, "kubectl")
	if _, err := os.Stat(kubectlBin); err != nil {
		return fmt.Errorf("no kubectl in KUBEBUILDER_ASSETS (%s); hack/envtest.sh builds it: %w", assets, err)
	}
	// hack/tool.sh builds helm once (minutes) and then only prints its path.
	out, err := exec.Command(filepath.Join(repoRoot, "hack", "tool.sh"), "helm").Output()
	if err != nil {
		return fmt.Errorf("finding helm with hack/tool.sh: %w", err)
	}
	helmBin = strings.TrimSpace(string(out))
	if env, err = testenv.Start(); err != nil {
		return err
	}
	if kubeconfig, err = env.AddAdmin(); err != nil {
		_ = env.Stop()
		return err
	}
	return nil
}

// cli runs helm and kubectl as a user would, against the test control
// plane, with every file they write (kubeconfig, helm's cache, config and
// data, kubectl's discovery cache) in the test's temporary directory.
type cli struct {
	t   *testing.T
	env []string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		t.Fatalf("writing the kubeconfig: %v", err)
	}
	vars := map[string]string{
		"KUBECONFIG":       kc,
		"KUBECACHEDIR":     filepath.Join(dir, "kube-cache"),
		"HELM_CACHE_HOME":  filepath.Join(dir, "helm-cache"),
		"HELM_CONFIG_HOME": filepath.Join(dir, "helm-config"),
		"HELM_DATA_HOME":   filepath.Join(dir, "helm-data"),
	}
	var environ []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); vars[name] == "" && !strings.HasPrefix(name, "HELM_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	return &cli{t: t, env: environ}
}

// result is one finished command.
type result struct {
	stdout, stderr string
	exitCode       int
}

// run runs a command with the CLI's environment in the repository root and
// returns its output; err is set only when it could not run at all or timed
// out. A non-zero exit is in exitCode.
func (c *cli) run(stdin []byte, bin string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = repoRoot
	cmd.Env = c.env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && ctx.Err() == nil:
		res.exitCode = exit.ExitCode()
	case err != nil:
		return res, fmt.Errorf("running %s %s: %w", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return res, nil
}

// must runs a command and fails the test unless it exits 0.
func (c *cli) must(stdin []byte, bin string, args ...string) string {
	c.t.Helper()
	res, err := c.run(stdin, bin, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.exitCode != 0 {
		c.t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), res.exitCode, res.stdout, res.stderr)
	}
	return res.stdout
}

func (c *cli) helm(args ...string) string { c.t.Helper(); return c.must(nil, helmBin, args...) }

func (c *cli) kubectl(args ...string) string { c.t.Helper(); return c.must(nil, kubectlBin, args...) }

// kubectlIn runs kubectl with stdin (for `-f -`).
func (c *cli) kubectlIn(stdin []byte, args ...string) string {
	c.t.Helper()
	return c.must(stdin, kubectlBin, args...)
}

// template renders the chart (or another chart directory) for namespace ns.
func (c *cli) template(chart, ns string, args ...string) []byte {
	c.t.Helper()
	base := []string{"template", "redflag", chart, "--namespace", ns, "--kube-version", kubeVersion}
	return []byte(c.helm(append(base, args...)...))
}

// parseObjects splits a multi-document YAML stream into objects, skipping
// empty documents (comments only, `---` at the start).
func parseObjects(data []byte) ([]*unstructured.Unstructured, error) {
	r := yamlutil.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("splitting YAML: %w", err)
		}
		// Through JSON with apimachinery's decoder, which keeps integers
		// int64 as unstructured.Nested* expect (sigs.k8s.io/yaml alone
		// would make them float64).
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("parsing a YAML document: %w\n%s", err, doc)
		}
		var m map[string]any
		if err := utiljson.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("decoding a YAML document: %w\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

func mustParse(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := parseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// find returns the objects of a kind, and of that name unless name is "".
func find(objs []*unstructured.Unstructured, kind, name string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single object of a kind and name, failing otherwise.
func one(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	got := find(objs, kind, name)
	if len(got) != 1 {
		t.Fatalf("want exactly one %s %q in the rendered manifests, found %d (objects: %s)", kind, name, len(got), describe(objs))
	}
	return got[0]
}

// describe lists objects as kind/name, for failure messages.
func describe(objs []*unstructured.Unstructured) string {
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(names, ", ")
}

// ensureNamespace creates a namespace unless it exists. Server-side dry runs
// need the namespace of what they check to exist for real.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// redflagCRDs are the names of RedFlag's four CRDs.
var redflagCRDs = []string{
	"agents.redflag.io", "agentupdates.redflag.io", "registrationtokens.redflag.io", "scanschedules.redflag.io",
}

// ensureCRDs makes sure RedFlag's CRDs are installed and established, for
// tests that need them whatever ran before (the Helm test deletes the ones
// testenv installed so the chart can install its own, and keeps them).
func ensureCRDs(t *testing.T, c *cli) {
	t.Helper()
	res, err := c.run(nil, kubectlBin, append([]string{"get", "crd", "-o", "name"}, redflagCRDs...)...)
	if err != nil {
		t.Fatal(err)
	}
	if res.exitCode != 0 {
		c.kubectl("apply", "--server-side", "--field-manager=deploytest", "-f", "config/crd/bases")
	}
	c.kubectl(append([]string{"wait", "--for=condition=Established", "--timeout=60s", "crd"}, redflagCRDs...)...)
}
