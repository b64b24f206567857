package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/apttest"
)

// pathWithoutDNF is a PATH holding every program of the system's PATH
// but dnf (as links in a directory of the test's): these hosts are Debian
// hosts, and a dnf the test machine happens to have installed, with no
// repositories, would fail every install's scan (ManagerUnavailable).
func pathWithoutDNF(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			switch e.Name() {
			case "dnf", "dnf-3", "dnf4", "dnf5", "yum", "microdnf":
				continue
			}
			link := filepath.Join(dir, e.Name())
			if _, err := os.Lstat(link); err == nil {
				continue // an earlier PATH entry wins, as in a shell
			}
			if err := os.Symlink(filepath.Join(d, e.Name()), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// metricsFleet enrolls two real agents in ns, each scanning its own
// sandbox apt root with redflag-demo 1.0 → 2.0 and a security update
// redflag-sec 1.0 → 1.1, checking in every 5 s under a ScanSchedule.
func metricsFleet(t *testing.T, c *cluster, ns, token string) []client.ObjectKey {
	t.Helper()
	ctx := context.Background()
	var keys []client.ObjectKey
	path := pathWithoutDNF(t)
	for i := range 2 {
		sb := apttest.New(t, apttest.Options{
			Installed: []apttest.Package{{Name: "redflag-demo", Version: "1.0"}, {Name: "redflag-sec", Version: "1.0"}},
			Repos: []apttest.Repo{
				{Packages: []apttest.Package{{Name: "redflag-demo", Version: "2.0"}}},
				{Suite: "bookworm-security", Packages: []apttest.Package{{Name: "redflag-sec", Version: "1.1"}}},
			},
		})
		h := newHost(t, fmt.Sprintf("%032x", 0x3e7a0000+i))
		h.env = append(h.env, "APT_CONFIG="+sb.Config, "PATH="+path)
		h.register(c, token)
		if i == 0 {
			h.register(c, token) // the same host again: its Agent back, no seat
		}
		keys = append(keys, agentOf(t, c, ns, h))
		patchAgent(t, c, keys[i], func(a *redflagv1.Agent) {
			a.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second}
		})
		h.run()
	}
	applyYAML(t, c, ns, scanScheduleManifest)
	eventually(t, 90*time.Second, "both agents to report their pending security update", func() bool {
		for _, k := range keys {
			var a redflagv1.Agent
			if err := c.env.Client.Get(ctx, k, &a); err != nil || a.Status.Updates.Security != 1 {
				return false
			}
		}
		return true
	})
	return keys
}

// TestMetricsDescribeTheFleet: after a real fleet run (enrollments, one
// refused, scans, a rollout), the manager's metrics endpoint says what the
// objects say: agents by readiness, OS and version, pending updates, the
// age of each host's oldest security update, the rollout's phase and
// counts, the token's seats and expiry, and the gateway's own counts.
func TestMetricsDescribeTheFleet(t *testing.T) {
	apttest.Require(t)
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	c := startCluster(t, "--metrics-bind-address", metricsAddr)
	ctx := context.Background()
	const ns = "metrics"
	token := applyToken(t, c, ns, tokenManifest)

	// A host with a token nobody issued is refused.
	stranger := newHost(t, "0123456789abcdef0123456789abcdef")
	if out, err := stranger.command("register", "--server", c.gatewayURL, "--token", "zzzzzz.0123456789abcdefghijklmnopqrstuv", "--ca-file", c.caFile).CombinedOutput(); err == nil {
		t.Fatalf("registering with a made-up token succeeded:\n%s", out)
	}
	keys := metricsFleet(t, c, ns, token)
	applyYAML(t, c, ns, rolloutManifest)
	au := client.ObjectKey{Namespace: ns, Name: "demo-upgrade"}
	var u redflagv1.AgentUpdate
	deadline := time.Now().Add(240 * time.Second)
	for c.env.Client.Get(ctx, au, &u) != nil || u.Status.Phase != redflagv1.RolloutSucceeded {
		if time.Now().After(deadline) {
			for _, k := range keys {
				a := getAgent(t, c, k)
				t.Logf("%s: currentWork %+v, conditions %+v", k.Name, a.Status.CurrentWork, a.Status.Conditions)
			}
			t.Fatalf("the rollout did not succeed within 240 s: %+v", u.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The objects keep moving a little (lastSeen is written every 1.75
	// intervals), so compare a fresh read with a scrape until they agree.
	var last error
	deadline = time.Now().Add(60 * time.Second)
	for {
		if last = compareFleet(t, c, metricsAddr, ns, keys, au); last == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics never matched the objects; last difference:\n%v", last)
		}
		time.Sleep(time.Second)
	}
}

// compareFleet reads the objects, scrapes, and lists every difference.
func compareFleet(t *testing.T, c *cluster, addr, ns string, keys []client.ObjectKey, auKey client.ObjectKey) error {
	ctx := context.Background()
	var agents redflagv1.AgentList
	var u redflagv1.AgentUpdate
	var tok redflagv1.RegistrationToken
	var secret corev1.Secret
	for _, err := range []error{
		c.env.Client.List(ctx, &agents, client.InNamespace(ns)),
		c.env.Client.Get(ctx, auKey, &u),
		c.env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-fleet"}, &tok),
		c.env.Client.Get(ctx, client.ObjectKey{Namespace: "redflag-system", Name: "redflag-gateway-tls"}, &secret),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	s := scrapeMetrics(t, addr)
	after := time.Now()
	var errs []error
	eq := func(name string, labels map[string]string, want float64) {
		got, err := s.one(name, labels)
		if err != nil {
			errs = append(errs, err)
		} else if got != want {
			errs = append(errs, fmt.Errorf("%s%v = %v, want %v", name, labels, got, want))
		}
	}
	// near: a value that is an age or a time left at scrape time.
	near := func(name string, labels map[string]string, at func(time.Time) float64) {
		got, err := s.one(name, labels)
		lo, hi := math.Min(at(before), at(after)), math.Max(at(before), at(after))
		if err != nil {
			errs = append(errs, err)
		} else if got < lo-1 || got > hi+1 {
			errs = append(errs, fmt.Errorf("%s%v = %v, want within [%v, %v]", name, labels, got, lo, hi))
		}
	}

	if len(agents.Items) != len(keys) {
		return fmt.Errorf("%d Agents in %s, want %d", len(agents.Items), ns, len(keys))
	}
	groups := map[[3]string]float64{}
	var pending, security float64
	for _, a := range agents.Items {
		ready := "unknown"
		if r := meta.FindStatusCondition(a.Status.Conditions, redflagv1.ConditionReady); r != nil {
			ready = strings.ToLower(string(r.Status))
		}
		groups[[3]string{ready, a.Status.OS.Family, a.Status.AgentVersion}]++
		pending += float64(a.Status.Updates.Total)
		security += float64(a.Status.Updates.Security)
		who := map[string]string{"namespace": ns, "agent": a.Name}
		eq("redflag_agent_last_seen_timestamp_seconds", who, float64(a.Status.LastSeen.Unix()))
		eq("redflag_agent_silent", who, 0)
		var firstSeen *metav1.Time
		for _, it := range a.Status.Updates.Items {
			if it.Security && it.Name == "redflag-sec" {
				firstSeen = it.FirstSeen
			}
		}
		if firstSeen == nil {
			errs = append(errs, fmt.Errorf("%s: no firstSeen on its pending security update: %+v", a.Name, a.Status.Updates.Items))
			continue
		}
		near("redflag_agent_oldest_security_update_age_seconds", who, func(at time.Time) float64 { return at.Sub(firstSeen.Time).Seconds() })
	}
	for g := range groups {
		if g[1] == "" || g[2] == "" {
			errs = append(errs, fmt.Errorf("an Agent without its OS family or version: %v", groups))
		}
	}
	for g, n := range groups {
		eq("redflag_agents", map[string]string{"namespace": ns, "ready": g[0], "os_family": g[1], "agent_version": g[2]}, n)
	}
	if total, _ := s.sum("redflag_agents", map[string]string{"namespace": ns}); total != float64(len(keys)) {
		errs = append(errs, fmt.Errorf("redflag_agents in %s add up to %v, want %d", ns, total, len(keys)))
	}
	eq("redflag_pending_updates", map[string]string{"namespace": ns}, pending)
	eq("redflag_pending_security_updates", map[string]string{"namespace": ns}, security)

	// The rollout.
	rollout := map[string]string{"namespace": ns, "agentupdate": auKey.Name}
	for _, p := range []redflagv1.RolloutPhase{redflagv1.RolloutProgressing, redflagv1.RolloutHalted, redflagv1.RolloutSucceeded} {
		want := 0.0
		if u.Status.Phase == p {
			want = 1
		}
		eq("redflag_agentupdate_phase", map[string]string{"namespace": ns, "agentupdate": auKey.Name, "phase": string(p)}, want)
	}
	cnt := u.Status.Counts
	if cnt.Succeeded != int32(len(keys)) {
		errs = append(errs, fmt.Errorf("rollout counts %+v, want %d succeeded", cnt, len(keys)))
	}
	for state, n := range map[string]int32{"pending": cnt.Pending, "in_progress": cnt.InProgress, "succeeded": cnt.Succeeded, "failed": cnt.Failed, "skipped": cnt.Skipped} {
		eq("redflag_agentupdate_hosts", map[string]string{"namespace": ns, "agentupdate": auKey.Name, "state": state}, float64(n))
	}
	eq("redflag_agentupdate_slots", rollout, float64(len(u.Status.Slots)))
	var finished time.Time
	for _, a := range agents.Items {
		if w := a.Status.CurrentWork; w != nil && w.AgentUpdate == auKey.Name && w.FinishedAt != nil && w.FinishedAt.After(finished) {
			finished = w.FinishedAt.Time
		}
	}
	near("redflag_agentupdate_seconds_since_progress", rollout, func(at time.Time) float64 { return at.Sub(finished).Seconds() })

	// The token: two hosts enrolled, one of them twice.
	token := map[string]string{"namespace": ns, "registrationtoken": tok.Name}
	eq("redflag_registrationtoken_seats_used", token, float64(tok.Status.UsedCount))
	eq("redflag_registrationtoken_seats_left", token, float64(*tok.Spec.MaxUses-tok.Status.UsedCount))
	near("redflag_registrationtoken_expiry_seconds", token, func(at time.Time) float64 { return tok.Status.ExpiresAt.Sub(at).Seconds() })
	if tok.Status.UsedCount != 2 {
		errs = append(errs, fmt.Errorf("token usedCount %d, want 2", tok.Status.UsedCount))
	}

	// The gateway: three registrations with the token (two new hosts,
	// one again), one with a made-up token; check-ins answered 200.
	eq("redflag_gateway_enrollments_total", map[string]string{"namespace": ns, "registrationtoken": tok.Name, "result": "Enrolled"}, 2)
	eq("redflag_gateway_enrollments_total", map[string]string{"namespace": ns, "registrationtoken": tok.Name, "result": "Reenrolled"}, 1)
	eq("redflag_gateway_enrollments_total", map[string]string{"namespace": "", "registrationtoken": "", "result": "InvalidToken"}, 1)
	eq("redflag_gateway_requests_total", map[string]string{"endpoint": "register", "code": "200"}, 3)
	eq("redflag_gateway_requests_total", map[string]string{"endpoint": "register", "code": "401"}, 1)
	eq("redflag_gateway_refusals_total", map[string]string{"reason": "InvalidToken"}, 1)
	checkIns, _ := s.sum("redflag_gateway_requests_total", map[string]string{"endpoint": "checkin"})
	if ok, _ := s.sum("redflag_gateway_requests_total", map[string]string{"endpoint": "checkin", "code": "200"}); ok < 4 {
		errs = append(errs, fmt.Errorf("%v check-ins answered 200, want several", ok))
	}
	if observed, _ := s.sum("redflag_gateway_request_duration_seconds", map[string]string{"endpoint": "checkin"}); observed != checkIns {
		errs = append(errs, fmt.Errorf("check-in latency has %v observations, want one per check-in (%v)", observed, checkIns))
	}
	if _, n := s.sum("redflag_gateway_requests_in_flight", nil); n != 1 {
		errs = append(errs, errors.New("no redflag_gateway_requests_in_flight"))
	}
	block, _ := pem.Decode(secret.Data["tls.crt"])
	if block == nil {
		t.Fatal("the gateway's TLS Secret has no certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	eq("redflag_gateway_certificate_expiry_timestamp_seconds", nil, float64(leaf.NotAfter.Unix()))
	return errors.Join(errs...)
}
