package events

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// sent is one Event as the sink received it.
type sent struct {
	regarding   runtime.Object
	annotations map[string]string
	eventtype   string
	reason      string
	action      string
	note        string
}

type fakeSink struct{ events []sent }

func (f *fakeSink) AnnotatedEventf(regarding, _ runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any) {
	f.events = append(f.events, sent{regarding, annotations, eventtype, reason, action, fmt.Sprintf(note, args...)})
}

func TestRecordSendsTheSameEntryToEventAndHistory(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	sink := &fakeSink{}
	rec := NewRecorder(sink, clocktesting.NewFakePassiveClock(now))
	agent := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns"}}
	meta := map[string]string{
		"agentUpdate": "canary", "workID": "canary-1", "oldVersion": "1.0.0", "newVersion": "1.1.0", "platform": "linux/amd64",
	}

	hist := rec.Record(agent, nil, AgentUpdated, "now running 1.1.0 (100% done)", meta)

	if len(hist) != 1 || len(sink.events) != 1 {
		t.Fatalf("history %d entries, %d events; want 1 and 1", len(hist), len(sink.events))
	}
	h, ev := hist[0], sink.events[0]
	if !h.Time.Time.Equal(now) {
		t.Errorf("entry time %v, want the clock's %v", h.Time, now)
	}
	if h.Type != "Normal" || h.Reason != "AgentUpdated" || h.Severity != "info" || h.Component != "agent" {
		t.Errorf("entry = %+v", h)
	}
	if ev.regarding != agent || ev.eventtype != h.Type || ev.reason != h.Reason || ev.action != "SelfUpdate" {
		t.Errorf("event = %+v", ev)
	}
	if ev.note != h.Message || h.Message != "now running 1.1.0 (100% done)" {
		t.Errorf("note %q, history message %q: a %% must survive as text", ev.note, h.Message)
	}
	for k, v := range meta {
		if h.Metadata[k] != v {
			t.Errorf("history metadata %s = %q, want %q", k, h.Metadata[k], v)
		}
	}
	wantAnn := map[string]string{
		"redflag.io/agentUpdate": "canary", "redflag.io/workID": "canary-1",
		"redflag.io/oldVersion": "1.0.0", "redflag.io/newVersion": "1.1.0", "redflag.io/platform": "linux/amd64",
		"redflag.io/severity": "info", "redflag.io/component": "agent",
	}
	if fmt.Sprint(ev.annotations) != fmt.Sprint(wantAnn) {
		t.Errorf("annotations = %v\nwant %v", ev.annotations, wantAnn)
	}
}

func TestMetadataCannotOverrideSeverityAnnotation(t *testing.T) {
	sink := &fakeSink{}
	NewRecorder(sink, nil).Emit(&redflagv1.Agent{}, NewRecorder(nil, nil).Entry(ScanFailed, "m", map[string]string{"severity": "info"}))
	if got := sink.events[0].annotations["redflag.io/severity"]; got != "error" {
		t.Fatalf("severity annotation = %q, want error", got)
	}
}

func TestRecordAppendsBounded(t *testing.T) {
	rec := NewRecorder(nil, nil) // no sink: history only
	var hist []redflagv1.HistoryEntry
	hist = rec.Record(nil, hist, TokenActive, "ok", nil)
	for i := 0; i < 2*redflagv1.MaxHistoryEntries; i++ {
		hist = rec.Record(nil, hist, ScanFailed, strings.Repeat("x", 2000), nil)
	}
	if len(hist) != redflagv1.MaxHistoryEntries {
		t.Fatalf("%d entries, want %d", len(hist), redflagv1.MaxHistoryEntries)
	}
	if hist[0].Reason != "TokenActive" {
		t.Fatalf("last success dropped: first entry is %s", hist[0].Reason)
	}
	if len(hist[1].Message) != redflagv1.MaxMessageLength {
		t.Fatalf("message %d bytes, want %d", len(hist[1].Message), redflagv1.MaxMessageLength)
	}
}

func TestTokensAreMasked(t *testing.T) {
	secret := "abcdefghijklmnopqrstuvwxyz012345"
	tok := "k3x9qa." + secret
	sink := &fakeSink{}
	rec := NewRecorder(sink, nil)
	// Placed so that cutting the message at 512 bytes would split the
	// token: masking must happen before the cut.
	msg := strings.Repeat("m", 490) + " token " + tok + " end"
	hist := rec.Record(&redflagv1.RegistrationToken{}, nil, TokenCreated, msg, map[string]string{"secretName": "glued" + tok + "x"})
	for _, s := range []string{hist[0].Message, hist[0].Metadata["secretName"], sink.events[0].note, fmt.Sprint(sink.events[0].annotations)} {
		if strings.Contains(s, secret[:8]) {
			t.Fatalf("secret leaked: %q", s)
		}
	}
	if !strings.Contains(hist[0].Metadata["secretName"], "k3x9qa.<redacted>") {
		t.Fatalf("id not kept: %q", hist[0].Metadata["secretName"])
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"abc123.0123456789abcdefghijklmnopqrstuv", "abc123.<redacted>"},
		{"x=abc123.0123456789abcdefghijklmnopqrstuv,", "x=abc123.<redacted>,"},
		// Shorter secrets or upper case are not token-shaped.
		{"abc123.0123456789", "abc123.0123456789"},
		{"ABC123.0123456789ABCDEFGHIJKLMNOPQRSTUV", "ABC123.0123456789ABCDEFGHIJKLMNOPQRSTUV"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
