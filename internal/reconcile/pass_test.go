package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

// These unit tests use controller-runtime's fake client (with the status
// subresource and resourceVersion checks) to steer writes; the controllers'
// envtest suite covers the same path against a real API server.

// sink records each Event together with what the store held at the moment
// it was sent, so a test can tell whether the status came first.
type sink struct {
	mu     sync.Mutex
	c      client.Client
	sent   []string
	stored [][]string // the stored history's reasons at each send
}

func (s *sink) AnnotatedEventf(regarding, _ runtime.Object, _ map[string]string, _, reason, _, _ string, _ ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, reason)
	var tok redflagv1.RegistrationToken
	if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(regarding.(client.Object)), &tok); err == nil {
		s.stored = append(s.stored, historyReasons(&tok))
	} else {
		s.stored = append(s.stored, nil)
	}
}

func historyReasons(tok *redflagv1.RegistrationToken) []string {
	var out []string
	for _, h := range tok.Status.History {
		out = append(out, h.Reason)
	}
	return out
}

// harness is a store holding one token, a client over it that counts
// status writes and fails the next `conflicts` of them, and a recorder.
type harness struct {
	t         *testing.T
	c         client.Client
	sink      *sink
	rec       *events.Recorder
	writes    int
	conflicts int
	key       client.ObjectKey
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := redflagv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "t", Generation: 3}}
	h := &harness{t: t, key: client.ObjectKeyFromObject(tok)}
	store := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tok).WithStatusSubresource(tok).Build()
	count := func() error {
		h.writes++
		if h.conflicts > 0 {
			h.conflicts--
			return apierrors.NewConflict(redflagv1.GroupVersion.WithResource("registrationtokens").GroupResource(), tok.Name, errors.New("the object has been modified"))
		}
		return nil
	}
	h.c = interceptor.NewClient(store.(client.WithWatch), interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := count(); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if err := count(); err != nil {
				return err
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	})
	h.sink = &sink{c: store}
	h.rec = events.NewRecorder(h.sink, clocktesting.NewFakeClock(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)))
	return h
}

func (h *harness) get() *redflagv1.RegistrationToken {
	h.t.Helper()
	var tok redflagv1.RegistrationToken
	if err := h.c.Get(context.Background(), h.key, &tok); err != nil {
		h.t.Fatal(err)
	}
	return &tok
}

// activate is a pass that makes the token Active and records TokenActive
// on the transition, as the token controller does.
func (h *harness) activate(opts Options) (*Pass, *redflagv1.RegistrationToken, time.Duration, error) {
	tok := h.get()
	p := Begin(h.c, h.rec, tok, opts)
	if tok.Status.Phase != redflagv1.TokenActive {
		tok.Status.Phase = redflagv1.TokenActive
		p.Record(events.TokenActive, "token enrolls hosts", map[string]string{"tokenID": "abc123"})
	}
	res, err := p.Finish(context.Background(), time.Hour, nil)
	return p, tok, res.RequeueAfter, err
}

func TestWritesStatusThenEmits(t *testing.T) {
	h := newHarness(t)
	p, tok, wait, err := h.activate(Options{})
	if err != nil || wait != time.Hour {
		t.Fatalf("Finish: wait %s, error %v; want 1h and none", wait, err)
	}
	if h.writes != 1 {
		t.Fatalf("%d status writes, want 1", h.writes)
	}
	stored := h.get()
	if stored.Status.Phase != redflagv1.TokenActive || stored.Status.ObservedGeneration != 3 {
		t.Errorf("stored status %+v; want Active at observedGeneration 3", stored.Status)
	}
	if len(h.sink.sent) != 1 || h.sink.sent[0] != "TokenActive" {
		t.Fatalf("Events %v, want one TokenActive", h.sink.sent)
	}
	if got := h.sink.stored[0]; len(got) != 1 || got[0] != "TokenActive" {
		t.Errorf("when the Event was sent the stored history was %v: the Event came before the status", got)
	}
	if e := p.Emitted(); len(e) != 1 || e[0].Reason != "TokenActive" || tok.Status.History[0].Reason != "TokenActive" {
		t.Errorf("Emitted %v, history %v", e, tok.Status.History)
	}

	// The same pass again finds nothing new: no write, no Event.
	if _, _, _, err := h.activate(Options{}); err != nil {
		t.Fatal(err)
	}
	if h.writes != 1 || len(h.sink.sent) != 1 {
		t.Errorf("an unchanged pass wrote %d times and sent %v; want no write and no Event", h.writes-1, h.sink.sent[1:])
	}
}

// TestConflictRetriesAndEmitsOnce: the write meets a conflict; the pass
// sends nothing and asks for a retry without an error; the retry, from
// the stored object, writes and sends the Event once.
func TestConflictRetriesAndEmitsOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write Writer
	}{{"merge patch", MergePatch}, {"update", Update}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.conflicts = 1
			tok := h.get()
			p := Begin(h.c, h.rec, tok, Options{Write: tc.write})
			tok.Status.Phase = redflagv1.TokenActive
			p.Record(events.TokenActive, "token enrolls hosts", nil)
			res, err := p.Finish(context.Background(), time.Hour, nil)
			if err != nil || res.RequeueAfter != ConflictRetry {
				t.Fatalf("a lost write: result %+v, error %v; want a retry in %s and no error", res, err, ConflictRetry)
			}
			if len(h.sink.sent) != 0 || len(p.Emitted()) != 0 {
				t.Fatalf("Events %v sent for a write that did not take", h.sink.sent)
			}
			if _, _, _, err := h.activate(Options{Write: tc.write}); err != nil {
				t.Fatal(err)
			}
			if h.writes != 2 || len(h.sink.sent) != 1 {
				t.Errorf("%d writes and Events %v; want 2 writes and TokenActive once", h.writes, h.sink.sent)
			}
		})
	}
}

// TestStaleReadIsAConflict: with no interception, a write from a copy
// read before someone else's write fails on the resourceVersion, and is
// a retry, for both writers.
func TestStaleReadIsAConflict(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write Writer
	}{{"merge patch", MergePatch}, {"update", Update}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tok := h.get()
			p := Begin(h.c, h.rec, tok, Options{Write: tc.write})
			other := h.get()
			other.Status.UsedCount = 1 // the gateway counts a seat meanwhile
			if err := h.c.Status().Update(context.Background(), other); err != nil {
				t.Fatal(err)
			}
			tok.Status.Phase = redflagv1.TokenActive
			p.Record(events.TokenActive, "token enrolls hosts", nil)
			res, err := p.Finish(context.Background(), 0, nil)
			if err != nil || res.RequeueAfter != ConflictRetry || len(h.sink.sent) != 0 {
				t.Fatalf("result %+v, error %v, Events %v; want a retry, no error, no Event", res, err, h.sink.sent)
			}
			if got := h.get().Status; got.UsedCount != 1 || got.Phase != "" {
				t.Errorf("stored status %+v; the stale write overwrote the newer one", got)
			}
		})
	}
}

func TestStallingMarksStalledAndWarnsOncePerGeneration(t *testing.T) {
	h := newHarness(t)
	stallPass := func() (time.Duration, error) {
		p := Begin(h.c, h.rec, h.get(), Options{})
		res, err := p.Finish(context.Background(), time.Hour, NewStalling("InvalidWindow", errors.New(`unknown time zone "Mars/Olympus_Mons"`)))
		return res.RequeueAfter, err
	}
	if wait, err := stallPass(); wait != 0 || err != nil {
		t.Fatalf("a stalled pass: wait %s, error %v; want no requeue and no error", wait, err)
	}
	tok := h.get()
	for _, typ := range []string{redflagv1.ConditionReady, redflagv1.ConditionStalled} {
		c := meta.FindStatusCondition(tok.Status.Conditions, typ)
		want := metav1.ConditionFalse
		if typ == redflagv1.ConditionStalled {
			want = metav1.ConditionTrue
		}
		if c == nil || c.Status != want || c.Reason != "InvalidWindow" || c.Message != `unknown time zone "Mars/Olympus_Mons"` || c.ObservedGeneration != 3 {
			t.Errorf("%s = %+v; want %s/InvalidWindow with the error's text at generation 3", typ, c, want)
		}
	}
	if len(h.sink.sent) != 1 || h.sink.sent[0] != "InvalidSpec" || historyReasons(tok)[0] != "InvalidSpec" {
		t.Fatalf("Events %v, history %v; want one InvalidSpec", h.sink.sent, historyReasons(tok))
	}

	// Still stalled, same generation: no second Warning, no write.
	if _, err := stallPass(); err != nil {
		t.Fatal(err)
	}
	if len(h.sink.sent) != 1 || h.writes != 1 {
		t.Errorf("a repeated stalled pass sent %v and wrote %d times; want one Event, one write", h.sink.sent, h.writes)
	}

	// A new generation that is still invalid is worth a new Warning.
	tok = h.get()
	tok.Generation = 4
	if err := h.c.Update(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if _, err := stallPass(); err != nil {
		t.Fatal(err)
	}
	if len(h.sink.sent) != 2 {
		t.Errorf("Events %v after the spec changed; want a second InvalidSpec", h.sink.sent)
	}
}

func TestWaitingWritesAndComesBack(t *testing.T) {
	h := newHarness(t)
	tok := h.get()
	p := Begin(h.c, h.rec, tok, Options{})
	tok.Status.Phase = redflagv1.TokenPending
	p.Record(events.TokenSecretConflict, "Secret t-token exists and is not owned by this token", map[string]string{"secretName": "t-token"})
	res, err := p.Finish(context.Background(), time.Hour, Wait(time.Minute, errors.New("Secret t-token is in the way")))
	if err != nil || res.RequeueAfter != time.Minute {
		t.Fatalf("result %+v, error %v; want a requeue in 1m and no error", res, err)
	}
	if h.get().Status.Phase != redflagv1.TokenPending || len(h.sink.sent) != 1 {
		t.Errorf("phase %q, Events %v; want the status written and TokenSecretConflict sent", h.get().Status.Phase, h.sink.sent)
	}
}

func TestOtherErrorWritesNothing(t *testing.T) {
	h := newHarness(t)
	tok := h.get()
	p := Begin(h.c, h.rec, tok, Options{})
	tok.Status.Phase = redflagv1.TokenActive
	p.Record(events.TokenActive, "token enrolls hosts", nil)
	failed := errors.New("reading Secret ns/t-token: connection refused")
	res, err := p.Finish(context.Background(), time.Hour, failed)
	if !errors.Is(err, failed) || res.RequeueAfter != 0 {
		t.Fatalf("result %+v, error %v; want the error, for the backoff", res, err)
	}
	if h.writes != 0 || len(h.sink.sent) != 0 {
		t.Errorf("%d writes, Events %v after a failed step; want none", h.writes, h.sink.sent)
	}
}

func TestOtherWriteErrorIsReturnedWrapped(t *testing.T) {
	h := newHarness(t)
	tok := h.get()
	h.c = interceptor.NewClient(h.c.(client.WithWatch), interceptor.Funcs{
		SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
			return apierrors.NewServiceUnavailable("the API server is restarting")
		},
	})
	p := Begin(h.c, h.rec, tok, Options{})
	tok.Status.Phase = redflagv1.TokenActive
	p.Record(events.TokenActive, "token enrolls hosts", nil)
	_, err := p.Finish(context.Background(), time.Hour, nil)
	if !apierrors.IsServiceUnavailable(err) || len(h.sink.sent) != 0 {
		t.Fatalf("error %v, Events %v; want the write's error and no Event", err, h.sink.sent)
	}
	if want := "writing the status of RegistrationToken ns/t: "; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("error %q does not say what was written", err)
	}
}

// TestStampOnlyWhenWriting: a field stamped on change (ScanSchedule's
// lastEvaluated) is set when something else changed and never makes a
// write by itself.
func TestStampOnlyWhenWriting(t *testing.T) {
	h := newHarness(t)
	stamped := 0
	pass := func(phase redflagv1.TokenPhase) {
		tok := h.get()
		p := Begin(h.c, h.rec, tok, Options{Stamp: func() {
			stamped++
			tok.Status.LastHandledRetry = "stamped"
		}})
		tok.Status.Phase = phase
		if _, err := p.Finish(context.Background(), 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	pass(redflagv1.TokenActive)
	if stamped != 1 || h.get().Status.LastHandledRetry != "stamped" {
		t.Fatalf("stamped %d times, stored %q; want the stamp written with the change", stamped, h.get().Status.LastHandledRetry)
	}
	pass(redflagv1.TokenActive)
	if stamped != 1 || h.writes != 1 {
		t.Errorf("an unchanged pass stamped (%d) or wrote (%d)", stamped, h.writes)
	}
}

// TestCommitTwiceWritesOnce: a second Commit after a successful one
// (a pass with steps after its write) writes and sends nothing again.
func TestCommitTwiceWritesOnce(t *testing.T) {
	h := newHarness(t)
	tok := h.get()
	p := Begin(h.c, h.rec, tok, Options{})
	tok.Status.Phase = redflagv1.TokenActive
	p.Record(events.TokenActive, "token enrolls hosts", nil)
	for range 2 {
		if err := p.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if h.writes != 1 || len(h.sink.sent) != 1 {
		t.Errorf("%d writes, Events %v; want one of each", h.writes, h.sink.sent)
	}
}
