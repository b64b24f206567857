package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

const oneSeatToken = `
apiVersion: redflag.io/v1alpha1
kind: RegistrationToken
metadata:
  name: one-seat
spec:
  ttl: 1h
  maxUses: 1
`

// TestAuditTrail runs the real manager and agent: a token is made and used
// up, a host enrolls and starts, a second host is refused. Every Event the
// API server holds then has its audit line on the manager's stderr (same
// object, reason, type, message and metadata), every audit line carries
// exactly the metadata keys docs/events.md lists for its reason, and the
// refusal is on the token's history.
func TestAuditTrail(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	const ns = "audit"
	token := applyToken(t, c, ns, oneSeatToken)
	first := newHost(t, "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1")
	first.register(c, token)
	first.run()
	second := newHost(t, "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2")
	out, err := second.command("register", "--server", c.gatewayURL, "--token", token, "--ca-file", c.caFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no seats left") {
		t.Fatalf("a second host on a one-seat token: %v\n%s", err, out)
	}

	want := []string{"TokenCreated", "TokenActive", "AgentRegistered", "AgentStarted", "TokenExhausted", "EnrollmentRefused"}
	var evs []eventsv1.Event
	eventually(t, 60*time.Second, "Events "+strings.Join(want, ", "), func() bool {
		var list eventsv1.EventList
		if err := c.env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false
		}
		evs = list.Items
		for _, r := range want {
			if !slices.ContainsFunc(evs, func(e eventsv1.Event) bool { return e.Reason == r }) {
				return false
			}
		}
		return true
	})

	var lines []events.AuditLine
	eventually(t, 10*time.Second, "an audit line for every Event", func() bool {
		lines = auditLines(t, c.manager.out.String())
		for _, e := range evs {
			if !slices.ContainsFunc(lines, func(l events.AuditLine) bool { return auditLineMatches(l, e) }) {
				return false
			}
		}
		return true
	})
	for _, l := range lines {
		r, ok := events.Lookup(l.Reason)
		if !ok {
			t.Errorf("audit line with an undocumented reason: %+v", l)
			continue
		}
		keys := slices.Sorted(maps.Keys(l.Metadata))
		if declared := slices.Sorted(slices.Values(r.Metadata)); !slices.Equal(keys, declared) {
			t.Errorf("%s line has metadata keys %v; docs/events.md lists %v", l.Reason, keys, declared)
		}
		if l.Type != r.Type || l.Severity != r.Severity || l.Component != r.Component || l.Action != r.Action || l.Time == "" {
			t.Errorf("%s line %+v does not match the reason %+v", l.Reason, l, r)
		}
		if strings.Contains(l.Message, token[7:]) || slices.Contains(slices.Collect(maps.Values(l.Metadata)), token) {
			t.Errorf("the token's secret is in an audit line: %+v", l)
		}
	}
	for _, e := range evs {
		if !slices.ContainsFunc(lines, func(l events.AuditLine) bool { return auditLineMatches(l, e) }) {
			t.Errorf("Event %s on %s/%s has no audit line", e.Reason, e.Regarding.Kind, e.Regarding.Name)
		}
	}

	var tok redflagv1.RegistrationToken
	if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "one-seat"}, &tok); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(tok.Status.History, func(h redflagv1.HistoryEntry) bool { return h.Reason == "EnrollmentRefused" })
	if i < 0 || tok.Status.History[i].Metadata["cause"] != "TokenExhausted" || tok.Status.History[i].Metadata["machineID"] != second.machineID() {
		t.Errorf("token history %+v: want the refusal of %s, cause TokenExhausted", tok.Status.History, second.machineID())
	}
	t.Logf("%d Events, %d audit lines", len(evs), len(lines))
}

// auditLines parses the audit lines out of the manager's output, which
// also holds its ordinary log lines.
func auditLines(t *testing.T, out string) []events.AuditLine {
	t.Helper()
	var lines []events.AuditLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"audit":"event"`) {
			continue
		}
		var l events.AuditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("an audit line is not one JSON object: %v: %q", err, sc.Text())
		}
		lines = append(lines, l)
	}
	return lines
}

// auditLineMatches says whether line l records Event e: the same object, reason,
// type, note and metadata (the Event's redflag.io/ annotations).
func auditLineMatches(l events.AuditLine, e eventsv1.Event) bool {
	if l.Reason != e.Reason || l.Type != e.Type || l.Message != e.Note || l.Object.Kind != e.Regarding.Kind ||
		l.Object.Namespace != e.Regarding.Namespace || l.Object.Name != e.Regarding.Name || l.Object.UID != string(e.Regarding.UID) {
		return false
	}
	for k, v := range l.Metadata {
		if e.Annotations[events.AnnotationPrefix+k] != v {
			return false
		}
	}
	return e.Annotations[events.AnnotationPrefix+"severity"] == string(l.Severity)
}
