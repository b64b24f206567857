package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/conditions"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/history"
)

// Object is a RedFlag kind: its status embeds CommonStatus.
type Object interface {
	client.Object
	StatusCommon() *redflagv1.CommonStatus
}

// Options tune how a pass writes.
type Options struct {
	// Write writes the status; nil means MergePatch.
	Write Writer
	// Stamp, if set, runs when the status changed, just before it is
	// written: for a field that moves only with a real change (were it a
	// change by itself, every pass would write).
	Stamp func()
}

// Pass is one reconcile of one object: the object as read, the object
// being brought up to date, and the entries to send as Events once the
// new status is stored. Between Begin and Commit a pass changes only the
// object's status, the only part a status write stores.
type Pass struct {
	c       client.Client
	rec     *events.Recorder
	obj     Object
	base    Object
	opts    Options
	pending []redflagv1.HistoryEntry
	emitted []redflagv1.HistoryEntry
}

// Begin starts a pass over obj, just read; obj is then changed in place.
func Begin(c client.Client, rec *events.Recorder, obj Object, opts Options) *Pass {
	if opts.Write == nil {
		opts.Write = MergePatch
	}
	return &Pass{c: c, rec: rec, obj: obj, base: obj.DeepCopyObject().(Object), opts: opts}
}

// Record adds an occurrence of reason to the object's history now and
// sends it as an Event once the status holding it is stored.
func (p *Pass) Record(reason events.Reason, msg string, md map[string]string) {
	e := p.rec.Entry(reason, msg, md)
	st := p.obj.StatusCommon()
	st.History = history.Append(st.History, e)
	p.pending = append(p.pending, e)
}

// Finish ends the pass with its outcome: wait is when to look again on
// success, err why it could not finish (see the package comment). A
// Stalling marks the object Stalled; any error but a Stalling or a
// Waiting ends the pass without a write. Otherwise the status is stored
// and its Events sent (Commit), and Result says what to return.
func (p *Pass) Finish(ctx context.Context, wait time.Duration, err error) (ctrl.Result, error) {
	var stall *Stalling
	var waiting *Waiting
	switch {
	case errors.As(err, &stall):
		p.stall(stall)
	case err != nil && !errors.As(err, &waiting):
		return Result(0, err)
	}
	if werr := p.Commit(ctx); werr != nil {
		return Result(0, werr)
	}
	return Result(wait, err)
}

// Commit marks the object's generation observed, writes the status if it
// differs from what was read and then, only then, sends the recorded
// Events. A failed write (a conflict included) sends nothing and is
// returned wrapped, for Result. Commit may be called again; it writes
// only what changed since the last successful one.
func (p *Pass) Commit(ctx context.Context) error {
	p.obj.StatusCommon().ObservedGeneration = p.obj.GetGeneration()
	p.emitted = nil
	if equality.Semantic.DeepEqual(p.base, p.obj) {
		return nil
	}
	if p.opts.Stamp != nil {
		p.opts.Stamp()
	}
	write := func() error { return p.opts.Write(ctx, p.c, p.base, p.obj) }
	if err := WriteThenEmit(p.rec, p.obj, write, p.pending...); err != nil {
		return fmt.Errorf("writing the status of %s %s/%s: %w", p.kind(), p.obj.GetNamespace(), p.obj.GetName(), err)
	}
	p.emitted, p.pending = p.pending, nil
	p.base = p.obj.DeepCopyObject().(Object)
	return nil
}

// Emitted returns the entries the last Commit sent as Events.
func (p *Pass) Emitted() []redflagv1.HistoryEntry { return p.emitted }

// stall marks the object Stalled and records s.Event when it was not
// stalled for this reason at this generation already.
func (p *Pass) stall(s *Stalling) {
	st := p.obj.StatusCommon()
	gen := p.obj.GetGeneration()
	msg := s.Error()
	prev := meta.FindStatusCondition(p.base.StatusCommon().Conditions, redflagv1.ConditionStalled)
	again := prev != nil && prev.Status == metav1.ConditionTrue && prev.Reason == s.Reason && prev.ObservedGeneration == gen
	if s.Event.Name != "" && !again {
		p.Record(s.Event, msg, nil)
	}
	conditions.MarkStalled(&st.Conditions, gen, s.Reason, msg)
}

// kind names the object's kind for error messages.
func (p *Pass) kind() string {
	if gvk, err := p.c.GroupVersionKindFor(p.obj); err == nil {
		return gvk.Kind
	}
	return fmt.Sprintf("%T", p.obj)
}
