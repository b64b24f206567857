package controllers_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// startPrometheus runs Debian's prometheus (hack/test-deps.sh installs
// it) with no scrape targets on a free port and returns its URL.
func startPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("the gate test needs Debian's prometheus package (run hack/test-deps.sh): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	eventually(t, 60*time.Second, func() error {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return fmt.Errorf("prometheus not ready at %s: %w\n%s", url, err, out.String())
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("prometheus at %s answers %s\n%s", url, resp.Status, out.String())
		}
		return nil
	})
	return url
}

// TestPrometheusGateHoldsTheRollout: against a real Prometheus, a query
// that returns a series holds the rollout (no slot, Waiting, GateClosed);
// an unreachable server holds it too; a query that returns nothing lets
// the first host start.
func TestPrometheusGateHoldsTheRollout(t *testing.T) {
	prom := startPrometheus(t)
	s := newRolloutStep(t, 1, map[string]string{"tier": "web"})
	s.create("r", func(au *redflagv1.AgentUpdate) {
		au.Spec.PrometheusGate = &redflagv1.PrometheusGate{URL: prom, Query: `vector(1)`}
	})
	res := s.reconcile("r")
	au := s.get("r")
	c := meta.FindStatusCondition(au.Status.Conditions, redflagv1.ConditionReady)
	if len(au.Status.Slots) != 0 || au.Status.Phase != redflagv1.RolloutWaiting || c == nil || c.Reason != "GateClosed" || !strings.Contains(c.Message, "returned 1 series") {
		t.Fatalf("gate with a result: slots %v phase %s Ready %+v", au.Status.Slots, au.Status.Phase, c)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > 30*time.Second {
		t.Errorf("requeue after %s, want within 30s to ask again", res.RequeueAfter)
	}

	s.update("r", func(au *redflagv1.AgentUpdate) { au.Spec.PrometheusGate.URL = "http://127.0.0.1:1" })
	s.reconcile("r")
	c = meta.FindStatusCondition(s.get("r").Status.Conditions, redflagv1.ConditionReady)
	if len(s.slots("r")) != 0 || c == nil || c.Reason != "GateClosed" || !strings.Contains(c.Message, "could not be asked") {
		t.Fatalf("unreachable gate: slots %v Ready %+v", s.slots("r"), c)
	}

	s.update("r", func(au *redflagv1.AgentUpdate) {
		au.Spec.PrometheusGate = &redflagv1.PrometheusGate{URL: prom, Query: `vector(1) > 2`}
	})
	s.reconcile("r")
	if got := s.slots("r"); !slices.Equal(got, []string{"host-0"}) {
		t.Fatalf("empty query result: slots %v, want host-0", got)
	}
}
