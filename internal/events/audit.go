package events

import (
	"encoding/json"
	"io"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// AuditLine is the JSON object written, one per line, for every Event the
// Recorder emits (docs/events.md, "The audit line"). Kubernetes keeps
// Events for about an hour and status history for 30 entries; a log
// pipeline keeps these lines as long as its owner wants.
type AuditLine struct {
	// Audit is always "event", so a pipeline can pick these lines out of
	// the manager's other log lines with one field test.
	Audit     string              `json:"audit"`
	Time      string              `json:"time"`
	Object    AuditObject         `json:"object"`
	Reason    string              `json:"reason"`
	Type      string              `json:"type"`
	Severity  redflagv1.Severity  `json:"severity"`
	Component redflagv1.Component `json:"component"`
	Action    string              `json:"action"`
	Message   string              `json:"message"`
	Metadata  map[string]string   `json:"metadata"`
}

// AuditObject names the object an event regards.
type AuditObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// AuditLog writes audit lines to one stream. It is shared by every
// Recorder of a process so lines from concurrent reconcilers and gateway
// handlers never interleave.
type AuditLog struct {
	mu sync.Mutex
	w  io.Writer
}

// NewAuditLog writes audit lines to w (the manager passes os.Stderr, the
// stream its logger writes to). The lines do not go through the logger on
// purpose: they stay JSON whatever --zap-encoder says and are written
// whatever --zap-log-level says.
func NewAuditLog(w io.Writer) *AuditLog {
	return &AuditLog{w: w}
}

// processAudit is the audit log of this process, which Recorders made
// after SetProcessAuditLog write to. It is process-wide because the stream
// is: every controller and the gateway share the manager's stderr.
var processAudit atomic.Pointer[AuditLog]

// SetProcessAuditLog makes every Recorder made from now on write audit
// lines to l (main sets it once, before building the controllers and the
// gateway).
func SetProcessAuditLog(l *AuditLog) {
	processAudit.Store(l)
}

// write encodes e regarding obj as one line. A failed write is dropped:
// the Event and the history entry still exist, and a full log disk must
// not stop reconciling.
func (l *AuditLog) write(obj runtime.Object, action string, e redflagv1.HistoryEntry) {
	if l == nil || l.w == nil {
		return
	}
	md := e.Metadata
	if md == nil {
		md = map[string]string{}
	}
	line := AuditLine{
		Audit: "event", Time: e.Time.UTC().Format(time.RFC3339Nano), Object: objectOf(obj),
		Reason: e.Reason, Type: e.Type, Severity: e.Severity, Component: e.Component,
		Action: action, Message: e.Message, Metadata: md,
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(b)
}

// objectOf names obj; typed objects read through a client often have an
// empty TypeMeta, so the kind falls back to the Go type's name (the kinds'
// Go types are named as the kinds are).
func objectOf(obj runtime.Object) AuditObject {
	var o AuditObject
	if obj == nil {
		return o
	}
	o.Kind = obj.GetObjectKind().GroupVersionKind().Kind
	if o.Kind == "" {
		if t := reflect.TypeOf(obj); t.Kind() == reflect.Pointer {
			o.Kind = t.Elem().Name()
		}
	}
	if m, err := meta.Accessor(obj); err == nil {
		o.Namespace, o.Name, o.UID = m.GetNamespace(), m.GetName(), string(m.GetUID())
	}
	return o
}
