package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/testenv"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm is the helm binary hack/tool.sh builds (once, minutes; then it only
// prints the path).
func helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		out, err := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "tool.sh"), "helm").Output()
		if err != nil {
			helmErr = fmt.Errorf("finding helm with hack/tool.sh: %w", err)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		helmPath = lines[len(lines)-1]
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

// needTool fails (never skips) when a Debian tool the test runs is missing.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run hack/test-deps.sh (Debian package prometheus)", name)
	}
	return p
}

// renderChart runs helm template on the chart with args and returns the
// documents it rendered.
func renderChart(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	cmd := exec.Command(helm(t), append([]string{"template", "redflag", filepath.Join(testenv.RepoRoot(), "charts", "redflag"),
		"--namespace", "redflag-system", "--kube-version", "1.37.2"}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr.String())
	}
	var docs []map[string]any
	for _, d := range strings.Split(string(out), "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("helm rendered YAML that does not parse: %v\n%s", err, d)
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
	return docs
}

func kindOf(docs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		if d["kind"] == kind {
			out = append(out, d)
		}
	}
	return out
}

// renderedRules writes the rules as the chart renders them (its
// PrometheusRule's spec) into dir/rules.yaml, for promtool and Prometheus.
func renderedRules(t *testing.T, dir string, sets ...string) string {
	t.Helper()
	args := []string{"--set", "metrics.prometheusRule.enabled=true"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	rules := kindOf(renderChart(t, args...), "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("the chart rendered %d PrometheusRules, want 1", len(rules))
	}
	data, err := yaml.Marshal(rules[0]["spec"])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("${")) {
		t.Fatalf("a threshold placeholder was left unfilled:\n%s", data)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestChartMonitoringIsOptional: by default the chart renders neither the
// PrometheusRule nor the dashboard; turned on, the rule carries every alert
// with the thresholds from values, and the dashboard is the ConfigMap
// Grafana's sidecar picks up, holding files/grafana-dashboard.json.
func TestChartMonitoringIsOptional(t *testing.T) {
	plain := renderChart(t)
	if n := len(kindOf(plain, "PrometheusRule")); n != 0 {
		t.Errorf("default values rendered %d PrometheusRules, want none", n)
	}
	for _, cm := range kindOf(plain, "ConfigMap") {
		t.Errorf("default values rendered ConfigMap %v, want none", cm["metadata"])
	}
	docs := renderChart(t, "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.prometheusRule.labels.release=kube-prometheus",
		"--set", "metrics.prometheusRule.thresholds.securityUpdatesPendingDays=3", "--set", "metrics.grafanaDashboard.enabled=true")
	rules := kindOf(docs, "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(rules))
	}
	if l := rules[0]["metadata"].(map[string]any)["labels"].(map[string]any); l["release"] != "kube-prometheus" {
		t.Errorf("PrometheusRule labels %v, want the release label from values", l)
	}
	var spec struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
			}
		}
	}
	data, _ := yaml.Marshal(rules[0]["spec"])
	if err := yaml.Unmarshal(data, &spec); err != nil || len(spec.Groups) != 1 {
		t.Fatalf("PrometheusRule spec %s: %v", data, err)
	}
	var alerts []string
	for _, r := range spec.Groups[0].Rules {
		alerts = append(alerts, r.Alert)
		if r.Alert == "RedFlagSecurityUpdatesPendingTooLong" && !strings.Contains(r.Expr, "> 3 * 86400") {
			t.Errorf("the security alert's expression %q does not use the threshold set in values (3 days)", r.Expr)
		}
	}
	want := []string{"RedFlagAgentSilent", "RedFlagSecurityUpdatesPendingTooLong", "RedFlagRolloutHalted", "RedFlagRolloutStalled",
		"RedFlagEnrollmentsRefused", "RedFlagGatewayCertificateExpiresSoon"}
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
	cms := kindOf(docs, "ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("%d ConfigMaps, want the dashboard's", len(cms))
	}
	if l := cms[0]["metadata"].(map[string]any)["labels"].(map[string]any); l["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v, want grafana_dashboard: \"1\"", l)
	}
	file, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "redflag", "files", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := cms[0]["data"].(map[string]any)["redflag-fleet.json"].(string)
	if strings.TrimSpace(got) != strings.TrimSpace(string(file)) {
		t.Errorf("the dashboard ConfigMap does not hold files/grafana-dashboard.json")
	}
	var dash map[string]any
	if err := json.Unmarshal([]byte(got), &dash); err != nil {
		t.Errorf("the dashboard is not JSON: %v", err)
	}
}

// TestAlertRulesPassPromtool runs promtool's rule unit tests
// (testdata/alerts_test.yaml) on the rules the chart renders with its
// default thresholds.
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool := needTool(t, "promtool")
	dir := t.TempDir()
	renderedRules(t, dir)
	tests, err := os.ReadFile(filepath.Join("testdata", "alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// prometheus is a real Prometheus server (the Debian package's) scraping
// one target every second and evaluating rules every second.
type prometheus struct {
	url  string
	proc *process
}

func startPrometheus(t *testing.T, target, rules string) *prometheus {
	t.Helper()
	bin := needTool(t, "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: redflag
    static_configs:
      - targets: [%q]
`, rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p := &prometheus{url: "http://" + addr}
	p.proc = startProcess(t, "prometheus", bin, nil, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	eventually(t, 30*time.Second, "Prometheus to be ready", func() bool {
		if p.proc.exited() {
			t.Fatalf("prometheus exited:\n%s", tail(p.proc.out.String(), 4000))
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// get decodes one Prometheus API answer's data into v.
func (p *prometheus) get(t *testing.T, path string, v any) error {
	t.Helper()
	resp, err := http.Get(p.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", path, body.Error)
	}
	return json.Unmarshal(body.Data, v)
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alertState is the state (pending, firing) of alert for agent, "" when
// Prometheus has no such alert.
func (p *prometheus) alertState(t *testing.T, alert, agent string) string {
	t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	if err := p.get(t, "/api/v1/alerts", &data); err != nil {
		t.Fatal(err)
	}
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == alert && a.Labels["agent"] == agent {
			return a.State
		}
	}
	return ""
}

// TestPrometheusAlertFiresAndResolves: a real Prometheus scrapes the real
// manager with the chart's rules (agentSilentFor set to 0s through the
// chart's values); stopping a real agent fires RedFlagAgentSilent for its
// host, starting it again resolves the alert. Every dashboard query runs
// without error against the same Prometheus.
func TestPrometheusAlertFiresAndResolves(t *testing.T) {
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	c := startCluster(t, "--metrics-bind-address", metricsAddr)
	rules := renderedRules(t, t.TempDir(), "metrics.prometheusRule.thresholds.agentSilentFor=0s")
	prom := startPrometheus(t, metricsAddr, rules)
	token := applyToken(t, c, "alerts", tokenManifest)
	h := newHost(t, "a1e47a1e47a1e47a1e47a1e47a1e47a1")
	h.register(c, token)
	key := agentOf(t, c, "alerts", h)
	patchAgent(t, c, key, func(a *redflagv1.Agent) { a.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second} })
	agent := h.run()
	eventually(t, 60*time.Second, "Prometheus to see the agent checking in", func() bool {
		var v struct {
			Result []struct{ Value []any } `json:"result"`
		}
		q := fmt.Sprintf(`redflag_agent_silent{namespace="alerts",agent=%q} == 0`, key.Name)
		return prom.get(t, "/api/v1/query?query="+url.QueryEscape(q), &v) == nil && len(v.Result) == 1
	})
	if s := prom.alertState(t, "RedFlagAgentSilent", key.Name); s != "" {
		t.Fatalf("RedFlagAgentSilent is %s while the agent checks in", s)
	}

	agent.stop()
	eventually(t, 90*time.Second, "RedFlagAgentSilent to fire for the stopped agent", func() bool {
		return prom.alertState(t, "RedFlagAgentSilent", key.Name) == "firing"
	})
	h.run()
	eventually(t, 60*time.Second, "RedFlagAgentSilent to resolve once the agent checks in again", func() bool {
		return prom.alertState(t, "RedFlagAgentSilent", key.Name) == ""
	})

	// The dashboard's queries all parse and run.
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "redflag", "files", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			q := strings.ReplaceAll(tg.Expr, "$namespace", ".*")
			var v any
			if err := prom.get(t, "/api/v1/query?query="+url.QueryEscape(q), &v); err != nil {
				t.Errorf("dashboard panel %q: %v", p.Title, err)
			}
			queries++
		}
	}
	if queries < 10 {
		t.Errorf("only %d dashboard queries found", queries)
	}
	var agents struct {
		Result []struct{ Value []any } `json:"result"`
	}
	if err := prom.get(t, "/api/v1/query?query="+url.QueryEscape(`sum(redflag_agents{namespace="alerts"})`), &agents); err != nil || len(agents.Result) != 1 || agents.Result[0].Value[1] != "1" {
		t.Errorf("Prometheus counts %v agents in alerts (%v), want 1", agents.Result, err)
	}
}
