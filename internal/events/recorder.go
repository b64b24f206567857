package events

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/history"
)

// AnnotationPrefix prefixes the Event annotations that carry an entry's
// severity, component and metadata.
const AnnotationPrefix = "redflag.io/"

// Sink is the part of controller-runtime's events.k8s.io/v1 recorder
// (mgr.GetEventRecorder, which replaced the deprecated
// GetEventRecorderFor) that the Recorder uses.
type Sink interface {
	AnnotatedEventf(regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any)
}

// Recorder sends each occurrence to a Kubernetes Event and to a status
// history, built once so both say the same thing.
type Recorder struct {
	sink  Sink
	clock clock.PassiveClock
	audit *AuditLog
}

// NewRecorder returns a Recorder writing Events to sink (nil records no
// Events, for unit tests), timing history entries with clk, and writing
// audit lines to the process's audit log (SetProcessAuditLog), if any.
func NewRecorder(sink Sink, clk clock.PassiveClock) *Recorder {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Recorder{sink: sink, clock: clk, audit: processAudit.Load()}
}

// WithAudit makes r also write each Event it emits as a line to l, and
// returns r. Nil writes no lines.
func (r *Recorder) WithAudit(l *AuditLog) *Recorder {
	r.audit = l
	return r
}

// Record emits the Event for reason on obj and returns hist with the same
// entry appended (bounded, see history.Append). Use it when the history is
// written in the same step; a controller, which must first persist the
// status, goes through internal/reconcile's Pass instead: Entry and
// history.Append now, Emit once the write succeeded, so a failed write
// followed by a retry does not send the Event twice.
func (r *Recorder) Record(obj runtime.Object, hist []redflagv1.HistoryEntry, reason Reason, message string, metadata map[string]string) []redflagv1.HistoryEntry {
	e := r.Entry(reason, message, metadata)
	r.Emit(obj, e)
	return history.Append(hist, e)
}

// Entry builds the history entry for one occurrence of reason: now, the
// reason's type, severity and component, the message and metadata cut to
// the schema bounds, and anything shaped like a token masked. Metadata
// keys the reason does not declare are dropped.
func (r *Recorder) Entry(reason Reason, message string, metadata map[string]string) redflagv1.HistoryEntry {
	var md map[string]string
	for k, v := range metadata {
		if !reason.Declares(k) {
			continue
		}
		if md == nil {
			md = make(map[string]string, len(reason.Metadata))
		}
		md[k] = Redact(v)
	}
	return history.Bound(redflagv1.HistoryEntry{
		Time:      metav1.NewTime(r.clock.Now()),
		Type:      reason.Type,
		Reason:    reason.Name,
		Severity:  reason.Severity,
		Component: reason.Component,
		Message:   Redact(message),
		Metadata:  md,
	})
}

// Emit sends e as an events.k8s.io/v1 Event regarding obj. Severity,
// component and each metadata entry become annotations under
// AnnotationPrefix (keys that would not make a valid annotation key stay in
// the history only, rather than making the API server refuse the Event).
//
// The same entry is written as an audit line (WithAudit) whether or not
// there is a sink.
func (r *Recorder) Emit(obj runtime.Object, e redflagv1.HistoryEntry) {
	action := "Record"
	if reason, ok := Lookup(e.Reason); ok {
		action = reason.Action
	}
	r.audit.write(obj, action, e)
	if r.sink == nil {
		return
	}
	ann := make(map[string]string, len(e.Metadata)+2)
	for k, v := range e.Metadata {
		if key := AnnotationPrefix + k; len(validation.IsQualifiedName(key)) == 0 {
			ann[key] = v
		}
	}
	// Set last so metadata cannot overwrite them.
	ann[AnnotationPrefix+"severity"] = string(e.Severity)
	ann[AnnotationPrefix+"component"] = string(e.Component)
	// The note is a format string to the recorder: pass the message as an
	// argument so a '%' in it is printed, not interpreted.
	r.sink.AnnotatedEventf(obj, nil, ann, e.Type, e.Reason, action, "%s", e.Message)
}
