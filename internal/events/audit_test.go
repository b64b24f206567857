package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// TestEmitWritesOneAuditLine: the line a log pipeline receives names the
// object, carries the entry's reason, type, severity, component, action,
// message and metadata, and is one JSON object on one line.
func TestEmitWritesOneAuditLine(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := NewRecorder(&fakeSink{}, clocktesting.NewFakePassiveClock(now)).WithAudit(NewAuditLog(&out))
	agent := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "prod", UID: "u-1"}}

	rec.Record(agent, nil, ScanFailed, "apt scan failed:\nexit 100", map[string]string{"subsystem": "updates", "extra": "dropped"})
	rec.Record(agent, nil, AgentSilent, "no check-in", nil)

	want := `{"audit":"event","time":"2030-01-02T03:04:05Z","object":{"kind":"Agent","namespace":"prod","name":"web-1","uid":"u-1"},"reason":"ScanFailed","type":"Warning","severity":"error","component":"agent","action":"Scan","message":"apt scan failed:\nexit 100","metadata":{"subsystem":"updates"}}
{"audit":"event","time":"2030-01-02T03:04:05Z","object":{"kind":"Agent","namespace":"prod","name":"web-1","uid":"u-1"},"reason":"AgentSilent","type":"Warning","severity":"warning","component":"controller","action":"Monitor","message":"no check-in","metadata":{}}
`
	if out.String() != want {
		t.Fatalf("audit lines:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestAuditLineWithoutSinkAndMasked: unit-test recorders with no Event sink
// still write the line, and a token in the message is masked there too.
func TestAuditLineWithoutSinkAndMasked(t *testing.T) {
	var out bytes.Buffer
	rec := NewRecorder(nil, nil).WithAudit(NewAuditLog(&out))
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: "ns"}}
	rec.Record(tok, nil, TokenCreated, "made abc123.0123456789abcdefghijklmnopqrstuv", map[string]string{"tokenID": "abc123", "secretName": "t-token"})
	var line AuditLine
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON object: %v: %q", err, out.String())
	}
	if line.Object.Kind != "RegistrationToken" || strings.Contains(out.String(), "0123456789abcdef") {
		t.Fatalf("line %s", out.String())
	}
}

// TestEntryKeepsOnlyDeclaredKeys: a host reporting an event cannot add
// metadata keys the reason does not document.
func TestEntryKeepsOnlyDeclaredKeys(t *testing.T) {
	e := NewRecorder(nil, nil).Entry(AgentStarted, "m", map[string]string{"version": "v1", "injected": "x"})
	if len(e.Metadata) != 1 || e.Metadata["version"] != "v1" {
		t.Fatalf("metadata %v, want only version", e.Metadata)
	}
}
