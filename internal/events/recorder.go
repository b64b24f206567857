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
}

// NewRecorder returns a Recorder writing Events to sink (nil records no
// Events, for unit tests) and timing history entries with clk.
func NewRecorder(sink Sink, clk clock.PassiveClock) *Recorder {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Recorder{sink: sink, clock: clk}
}

// Record emits the Event for reason on obj and returns hist with the same
// entry appended (bounded, see history.Append). Use it when the history is
// written in the same step; a controller that must first persist the
// status uses Entry, history.Append, then Emit once the write succeeded, so
// a failed write followed by a retry does not send the Event twice.
func (r *Recorder) Record(obj runtime.Object, hist []redflagv1.HistoryEntry, reason Reason, message string, metadata map[string]string) []redflagv1.HistoryEntry {
	e := r.Entry(reason, message, metadata)
	r.Emit(obj, e)
	return history.Append(hist, e)
}

// Entry builds the history entry for one occurrence of reason: now, the
// reason's type, severity and component, the message and metadata cut to
// the schema bounds, and anything shaped like a token masked.
func (r *Recorder) Entry(reason Reason, message string, metadata map[string]string) redflagv1.HistoryEntry {
	var md map[string]string
	if len(metadata) > 0 {
		md = make(map[string]string, len(metadata))
		for k, v := range metadata {
			md[k] = Redact(v)
		}
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
func (r *Recorder) Emit(obj runtime.Object, e redflagv1.HistoryEntry) {
	if r.sink == nil {
		return
	}
	action := "Record"
	if reason, ok := Lookup(e.Reason); ok {
		action = reason.Action
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
