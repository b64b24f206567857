package controllers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/controllers"
	"github.com/redflag-io/redflag/internal/events"
)

// tokenShape is what the controller generates: <6>.<32> of [a-z0-9].
var tokenShape = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{32})$`)

// countingSink passes Events to the real recorder and counts them by
// reason, so a test can tell "once" from "twice" exactly (the API server's
// events.k8s.io series would fold repeats into one object).
type countingSink struct {
	inner events.Sink
	mu    sync.Mutex
	count map[string]int
}

func (s *countingSink) AnnotatedEventf(regarding, related runtime.Object, ann map[string]string, eventtype, reason, action, note string, args ...any) {
	s.mu.Lock()
	if s.count == nil {
		s.count = map[string]int{}
	}
	s.count[reason]++
	s.mu.Unlock()
	if s.inner != nil {
		s.inner.AnnotatedEventf(regarding, related, ann, eventtype, reason, action, note, args...)
	}
}

func (s *countingSink) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.count {
		out[k] = v
	}
	return out
}

// syncBuffer collects the manager's log lines from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tokenHarness is one running token controller watching one fresh namespace.
type tokenHarness struct {
	ns   string
	sink *countingSink
	logs *syncBuffer
	// fences counts the tokens fence made, to name the next one.
	fences int
}

func tokenNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "token-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// startTokenController runs the real reconciler, wired by its own
// SetupWithManager, in a manager that caches only a fresh namespace.
func startTokenController(t *testing.T) *tokenHarness {
	t.Helper()
	h := &tokenHarness{ns: tokenNamespace(t), logs: &syncBuffer{}}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  env.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Debug level, so V(1) lines are scanned for secrets too.
		Logger:     zap.New(zap.WriteTo(h.logs), zap.UseDevMode(true)),
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{h.ns: {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.sink = &countingSink{inner: mgr.GetEventRecorder(controllers.RegistrationTokenEventSource)}
	clk := clock.RealClock{}
	r := &controllers.RegistrationTokenReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Recorder: events.NewRecorder(h.sink, clk), Clock: clk,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return h
}

func (h *tokenHarness) create(t *testing.T, name string, spec redflagv1.RegistrationTokenSpec) *redflagv1.RegistrationToken {
	t.Helper()
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, Spec: spec}
	if err := env.Client.Create(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitToken polls the token until ok says it is as wanted.
func waitToken(t *testing.T, key client.ObjectKey, timeout time.Duration, what string, ok func(*redflagv1.RegistrationToken) bool) *redflagv1.RegistrationToken {
	t.Helper()
	var tok redflagv1.RegistrationToken
	eventually(t, timeout, func() error {
		if err := env.Client.Get(context.Background(), key, &tok); err != nil {
			return err
		}
		if !ok(&tok) {
			return fmt.Errorf("token %s not %s; status: %+v", key, what, tok.Status)
		}
		return nil
	})
	return &tok
}

func phaseIs(p redflagv1.TokenPhase) func(*redflagv1.RegistrationToken) bool {
	return func(tok *redflagv1.RegistrationToken) bool { return tok.Status.Phase == p }
}

// readToken returns the whole token from the token's Secret, checking the
// Secret's shape on the way.
func readToken(t *testing.T, tok *redflagv1.RegistrationToken) (string, *corev1.Secret) {
	t.Helper()
	var sec corev1.Secret
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: tok.Namespace, Name: tok.Status.SecretName}, &sec); err != nil {
		t.Fatal(err)
	}
	if !metav1.IsControlledBy(&sec, tok) {
		t.Errorf("Secret %s not controlled by the token: %+v", sec.Name, sec.OwnerReferences)
	}
	if sec.Type != controllers.TokenSecretType || sec.Immutable == nil || !*sec.Immutable {
		t.Errorf("Secret type %q immutable %v", sec.Type, sec.Immutable)
	}
	if sec.Labels[redflagv1.LabelToken] != tok.Name {
		t.Errorf("Secret labels %v", sec.Labels)
	}
	token := string(sec.Data[controllers.TokenSecretKey])
	m := tokenShape.FindStringSubmatch(token)
	if m == nil {
		t.Fatal("the token in the Secret does not look like <6>.<32> of [a-z0-9]")
	}
	if string(sec.Data[controllers.TokenIDSecretKey]) != m[1] {
		t.Errorf("token-id key %q, want %q", sec.Data[controllers.TokenIDSecretKey], m[1])
	}
	return token, &sec
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// kstatusOf runs kstatus, as Flux and kubectl-style waiters do.
func kstatusOf(t *testing.T, tok *redflagv1.RegistrationToken) status.Status {
	t.Helper()
	obj := tok.DeepCopy()
	obj.APIVersion, obj.Kind = redflagv1.GroupVersion.String(), "RegistrationToken"
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: content})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

// wantEventCounts checks the exact number of Events sent per reason and
// waits until each reason is also stored by the API server.
func (h *tokenHarness) wantEventCounts(t *testing.T, want map[string]int) {
	t.Helper()
	// Events are sent just after the status write a test may already have
	// seen, so wait for the counts; they only grow, so a passing count is
	// exact as long as the caller has let any further reconcile happen
	// (see fence).
	eventually(t, 10*time.Second, func() error {
		if got := h.sink.counts(); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("events sent %v, want %v", got, want)
		}
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		var list eventsv1.EventList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(h.ns)); err != nil {
			return err
		}
		stored := map[string]bool{}
		for _, e := range list.Items {
			stored[e.Reason] = true
			if e.ReportingController != controllers.RegistrationTokenEventSource || e.Annotations["redflag.io/severity"] == "" {
				t.Fatalf("event %s: controller %q annotations %v", e.Reason, e.ReportingController, e.Annotations)
			}
		}
		for reason := range want {
			if !stored[reason] {
				return fmt.Errorf("events stored %v, want all of %v", stored, want)
			}
		}
		return nil
	})
}

// fence makes sure the controller has finished with every change made to
// the harness's tokens so far, so a test can then check that those changes
// caused nothing (no write, no Event). It creates another token and waits
// for it to be Active: the controller runs one reconcile at a time
// (MaxConcurrentReconciles 1) and its queue hands out keys in the order
// their watch events came (the API server's order, so every earlier
// change's first), hence the new token's reconcile starts only after the
// earlier ones finished. It adds one TokenCreated and one TokenActive
// Event, which the caller's wantEventCounts must include.
func (h *tokenHarness) fence(t *testing.T) {
	t.Helper()
	h.fences++
	tok := h.create(t, fmt.Sprintf("fence-%d", h.fences), redflagv1.RegistrationTokenSpec{})
	waitToken(t, client.ObjectKeyFromObject(tok), 10*time.Second, "Active (the fence)", phaseIs(redflagv1.TokenActive))
}

func TestTokenGetsSecretAndBecomesActive(t *testing.T) {
	h := startTokenController(t)
	tok := h.create(t, "web", redflagv1.RegistrationTokenSpec{TTL: &metav1.Duration{Duration: time.Hour}, MaxUses: ptr.To[int32](3)})
	key := client.ObjectKeyFromObject(tok)
	tok = waitToken(t, key, 10*time.Second, "Active", phaseIs(redflagv1.TokenActive))

	token, _ := readToken(t, tok)
	st := tok.Status
	if st.TokenID != token[:6] || st.TokenHash != sha(token) || st.SecretName != "web-token" {
		t.Errorf("status id %q hash %q secret %q do not match the Secret", st.TokenID, st.TokenHash, st.SecretName)
	}
	if want := tok.CreationTimestamp.Add(time.Hour); !st.ExpiresAt.Time.Equal(want) {
		t.Errorf("expiresAt %v, want creation + ttl = %v", st.ExpiresAt, want)
	}
	if st.ObservedGeneration != tok.Generation {
		t.Errorf("observedGeneration %d, generation %d", st.ObservedGeneration, tok.Generation)
	}
	ready := meta.FindStatusCondition(st.Conditions, redflagv1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != "Active" || ready.ObservedGeneration != tok.Generation {
		t.Errorf("Ready = %+v", ready)
	}
	if s := kstatusOf(t, tok); s != status.CurrentStatus {
		t.Errorf("kstatus %s, want Current", s)
	}
	if len(st.History) != 2 || st.History[0].Reason != "TokenCreated" || st.History[1].Reason != "TokenActive" {
		t.Errorf("history %+v", st.History)
	}
	h.wantEventCounts(t, map[string]int{"TokenCreated": 1, "TokenActive": 1})

	// Nothing changes on a reconcile that finds nothing new: poke the
	// token (metadata and a seat counted below maxUses, as the gateway
	// would) and check that no status write and no Event follow.
	patch := client.MergeFrom(tok.DeepCopy())
	tok.Annotations = map[string]string{"poke": "1"}
	if err := env.Client.Patch(context.Background(), tok, patch); err != nil {
		t.Fatal(err)
	}
	useSeats(t, key, 1)
	if err := env.Client.Get(context.Background(), key, tok); err != nil {
		t.Fatal(err)
	}
	rv := tok.ResourceVersion
	// Not a sleep: once the fence token is Active the reconciles of the
	// poke and the seat have run.
	h.fence(t)
	if err := env.Client.Get(context.Background(), key, tok); err != nil {
		t.Fatal(err)
	}
	if tok.ResourceVersion != rv {
		t.Errorf("an unchanged reconcile wrote the token: %+v", tok.Status)
	}
	// The fence token's own two Events, none more for "web".
	h.wantEventCounts(t, map[string]int{"TokenCreated": 2, "TokenActive": 2})
	assertNoSecret(t, h, token)
}

// useSeats counts n seats as the gateway does: read, bump, update with
// optimistic concurrency.
func useSeats(t *testing.T, key client.ObjectKey, n int32) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var tok redflagv1.RegistrationToken
		if err := env.Client.Get(context.Background(), key, &tok); err != nil {
			return err
		}
		for i := int32(0); i < n; i++ {
			tok.Status.UsedCount++
			tok.Status.EnrolledAgents = append(tok.Status.EnrolledAgents, redflagv1.EnrolledAgent{
				Name: fmt.Sprintf("host-%d", tok.Status.UsedCount), Time: metav1.Now(),
			})
		}
		return env.Client.Status().Update(context.Background(), &tok)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTokenExpiresAtItsInstant(t *testing.T) {
	h := startTokenController(t)
	// Whole seconds, as the API stores them: 5 to 6 seconds from now,
	// room enough to see the token Active first on a loaded machine.
	expires := time.Now().Add(6 * time.Second).Truncate(time.Second)
	tok := h.create(t, "soon", redflagv1.RegistrationTokenSpec{ExpiresAt: &metav1.Time{Time: expires}})
	key := client.ObjectKeyFromObject(tok)
	waitToken(t, key, 10*time.Second, "Active", phaseIs(redflagv1.TokenActive))
	if time.Now().After(expires) {
		t.Fatal("the token was not seen Active before it expired (took over 5s to become Active)")
	}

	tok = waitToken(t, key, 10*time.Second, "Expired", phaseIs(redflagv1.TokenExpired))
	flipped := time.Now()
	// Resync is hours away: only a requeue at expiresAt flips it this soon.
	if late := flipped.Sub(expires); late > time.Second {
		t.Errorf("flipped to Expired %s after expiresAt", late)
	}
	if !tok.Status.ExpiresAt.Time.Equal(expires) {
		t.Errorf("status.expiresAt %v, want spec's %v", tok.Status.ExpiresAt, expires)
	}
	for _, typ := range []string{redflagv1.ConditionReady, redflagv1.ConditionStalled} {
		c := meta.FindStatusCondition(tok.Status.Conditions, typ)
		if c == nil || c.Reason != "Expired" {
			t.Errorf("%s = %+v, want reason Expired", typ, c)
		}
		if typ == redflagv1.ConditionReady && c != nil && c.Status != metav1.ConditionFalse {
			t.Errorf("Ready = %s after expiry", c.Status)
		}
	}
	if s := kstatusOf(t, tok); s != status.FailedStatus {
		t.Errorf("kstatus %s, want Failed", s)
	}
	h.wantEventCounts(t, map[string]int{"TokenCreated": 1, "TokenActive": 1, "TokenExpired": 1})
}

func TestTokenExhaustedAndBack(t *testing.T) {
	h := startTokenController(t)
	tok := h.create(t, "seats", redflagv1.RegistrationTokenSpec{MaxUses: ptr.To[int32](2)})
	key := client.ObjectKeyFromObject(tok)
	waitToken(t, key, 10*time.Second, "Active", phaseIs(redflagv1.TokenActive))

	useSeats(t, key, 2)
	tok = waitToken(t, key, 10*time.Second, "Exhausted", phaseIs(redflagv1.TokenExhausted))
	// The controller's status writes never undo the gateway's.
	if tok.Status.UsedCount != 2 || len(tok.Status.EnrolledAgents) != 2 {
		t.Errorf("usedCount %d, enrolledAgents %v", tok.Status.UsedCount, tok.Status.EnrolledAgents)
	}
	if c := meta.FindStatusCondition(tok.Status.Conditions, redflagv1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse || c.Reason != "Exhausted" {
		t.Errorf("Ready = %+v", c)
	}
	if want := tok.CreationTimestamp.Add(24 * time.Hour); !tok.Status.ExpiresAt.Time.Equal(want) {
		t.Errorf("expiresAt %v, want the 24h default %v", tok.Status.ExpiresAt, want)
	}

	// More seats bring it back.
	patch := client.MergeFrom(tok.DeepCopy())
	tok.Spec.MaxUses = ptr.To[int32](5)
	if err := env.Client.Patch(context.Background(), tok, patch); err != nil {
		t.Fatal(err)
	}
	tok = waitToken(t, key, 10*time.Second, "Active again", func(tok *redflagv1.RegistrationToken) bool {
		return tok.Status.Phase == redflagv1.TokenActive && tok.Status.ObservedGeneration == tok.Generation
	})
	if tok.Status.UsedCount != 2 || len(tok.Status.EnrolledAgents) != 2 {
		t.Errorf("usedCount %d, enrolledAgents %v", tok.Status.UsedCount, tok.Status.EnrolledAgents)
	}
	h.wantEventCounts(t, map[string]int{"TokenCreated": 1, "TokenActive": 2, "TokenExhausted": 1})
}

func TestTokenRevoked(t *testing.T) {
	h := startTokenController(t)
	tok := h.create(t, "gone", redflagv1.RegistrationTokenSpec{MaxUses: ptr.To[int32](1)})
	key := client.ObjectKeyFromObject(tok)
	tok = waitToken(t, key, 10*time.Second, "Active", phaseIs(redflagv1.TokenActive))

	// Revoked outranks Exhausted: use the only seat, then revoke.
	patch := client.MergeFrom(tok.DeepCopy())
	tok.Spec.Revoked = true
	if err := env.Client.Patch(context.Background(), tok, patch); err != nil {
		t.Fatal(err)
	}
	useSeats(t, key, 1)
	tok = waitToken(t, key, 10*time.Second, "Revoked", phaseIs(redflagv1.TokenRevoked))
	if c := meta.FindStatusCondition(tok.Status.Conditions, redflagv1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse || c.Reason != "Revoked" {
		t.Errorf("Ready = %+v", c)
	}
	last := tok.Status.History[len(tok.Status.History)-1]
	if last.Reason != "TokenRevoked" || last.Metadata["source"] != "spec.revoked" || last.Metadata["tokenID"] != tok.Status.TokenID {
		t.Errorf("last history entry %+v", last)
	}
	// The seat-count reconcile must not add Events: the fence waits until
	// it has run (and adds the fence token's own TokenCreated and
	// TokenActive).
	h.fence(t)
	h.wantEventCounts(t, map[string]int{"TokenCreated": 2, "TokenActive": 2, "TokenRevoked": 1})
}

func TestTokenSecretDeletedIsRegenerated(t *testing.T) {
	h := startTokenController(t)
	tok := h.create(t, "lost", redflagv1.RegistrationTokenSpec{})
	key := client.ObjectKeyFromObject(tok)
	tok = waitToken(t, key, 10*time.Second, "Active", phaseIs(redflagv1.TokenActive))
	oldToken, sec := readToken(t, tok)

	if err := env.Client.Delete(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	tok = waitToken(t, key, 10*time.Second, "regenerated", func(tok *redflagv1.RegistrationToken) bool {
		return tok.Status.TokenHash != "" && tok.Status.TokenHash != sha(oldToken)
	})
	newToken, newSec := readToken(t, tok)
	if newSec.UID == sec.UID || newToken == oldToken {
		t.Fatal("the Secret was not replaced")
	}
	if tok.Status.TokenHash != sha(newToken) || tok.Status.TokenID != newToken[:6] || tok.Status.Phase != redflagv1.TokenActive {
		t.Errorf("status does not describe the new token: %+v", tok.Status)
	}
	last := tok.Status.History[len(tok.Status.History)-1]
	if last.Reason != "TokenRegenerated" || last.Metadata["oldTokenID"] != oldToken[:6] || last.Metadata["tokenID"] != newToken[:6] {
		t.Errorf("last history entry %+v", last)
	}
	h.wantEventCounts(t, map[string]int{"TokenCreated": 1, "TokenActive": 1, "TokenRegenerated": 1})
	assertNoSecret(t, h, oldToken)
	assertNoSecret(t, h, newToken)
}

// assertNoSecret scans everything the controller writes where people and
// tools can read it (status, Events, history, logs) for the secret half of
// token.
func assertNoSecret(t *testing.T, h *tokenHarness, token string) {
	t.Helper()
	secret := token[7:]
	var toks redflagv1.RegistrationTokenList
	if err := env.Client.List(context.Background(), &toks, client.InNamespace(h.ns)); err != nil {
		t.Fatal(err)
	}
	var evs eventsv1.EventList
	if err := env.Client.List(context.Background(), &evs, client.InNamespace(h.ns)); err != nil {
		t.Fatal(err)
	}
	var coreEvs corev1.EventList
	if err := env.Client.List(context.Background(), &coreEvs, client.InNamespace(h.ns)); err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) == 0 {
		t.Fatal("no Events to scan")
	}
	for what, v := range map[string]any{"token objects (status, history, conditions)": toks, "Events": evs, "core Events": coreEvs} {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the token's secret appears in %s", what)
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "recorded") {
		t.Error("no controller log lines captured: the scan would prove nothing")
	}
	if strings.Contains(logs, secret) {
		t.Error("the token's secret appears in the logs")
	}
}

// directReconciler calls Reconcile itself, against the API server with no
// cache and a fake clock, so results (RequeueAfter) can be checked exactly.
func directReconciler(clk clock.PassiveClock, sink *countingSink) *controllers.RegistrationTokenReconciler {
	return &controllers.RegistrationTokenReconciler{
		Client: env.Client, APIReader: env.Client,
		Recorder: events.NewRecorder(sink, clk), Clock: clk,
	}
}

func reconcileToken(t *testing.T, r *controllers.RegistrationTokenReconciler, key client.ObjectKey) (ctrl.Result, *redflagv1.RegistrationToken) {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	var tok redflagv1.RegistrationToken
	if err := env.Client.Get(context.Background(), key, &tok); err != nil {
		t.Fatal(err)
	}
	return res, &tok
}

func createToken(t *testing.T, ns, name string, spec redflagv1.RegistrationTokenSpec) *redflagv1.RegistrationToken {
	t.Helper()
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
	if err := env.Client.Create(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokenRequeuesExactlyAtExpiry steps a fake clock through a 1h token's
// life: each Active reconcile asks to come back exactly at expiresAt, and
// the reconcile at that instant (not a nanosecond later) marks it Expired.
func TestTokenRequeuesExactlyAtExpiry(t *testing.T) {
	ns := tokenNamespace(t)
	tok := createToken(t, ns, "clocked", redflagv1.RegistrationTokenSpec{TTL: &metav1.Duration{Duration: time.Hour}})
	key := client.ObjectKeyFromObject(tok)
	expires := tok.CreationTimestamp.Add(time.Hour)
	clk := clocktesting.NewFakePassiveClock(tok.CreationTimestamp.Add(10 * time.Minute))
	sink := &countingSink{}
	r := directReconciler(clk, sink)

	res, tok := reconcileToken(t, r, key)
	if tok.Status.Phase != redflagv1.TokenActive || res.RequeueAfter != 50*time.Minute {
		t.Fatalf("phase %s, requeue after %s; want Active, 50m", tok.Status.Phase, res.RequeueAfter)
	}
	// A second reconcile with nothing new writes nothing.
	rv := tok.ResourceVersion
	clk.SetTime(expires.Add(-time.Nanosecond))
	res, tok = reconcileToken(t, r, key)
	if tok.ResourceVersion != rv || res.RequeueAfter != time.Nanosecond {
		t.Fatalf("unchanged reconcile: resourceVersion %s -> %s, requeue after %s", rv, tok.ResourceVersion, res.RequeueAfter)
	}
	clk.SetTime(expires)
	res, tok = reconcileToken(t, r, key)
	if tok.Status.Phase != redflagv1.TokenExpired || res.RequeueAfter != 0 {
		t.Fatalf("at expiresAt: phase %s, requeue after %s; want Expired, none", tok.Status.Phase, res.RequeueAfter)
	}
	last := tok.Status.History[len(tok.Status.History)-1]
	if last.Reason != "TokenExpired" || !last.Time.Time.Equal(expires) {
		t.Errorf("history entry %s at %v, want TokenExpired at the fake clock's %v", last.Reason, last.Time, expires)
	}
	clk.SetTime(expires.Add(time.Hour))
	reconcileToken(t, r, key)
	if got := sink.counts(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"TokenCreated": 1, "TokenActive": 1, "TokenExpired": 1}) {
		t.Errorf("events %v", got)
	}
}

// TestTokenSecretReusedAfterCrash: the controller created the Secret and
// died before writing status. The next reconcile must publish that token,
// not generate another (hosts may already have been given it).
func TestTokenSecretReusedAfterCrash(t *testing.T) {
	ns := tokenNamespace(t)
	tok := createToken(t, ns, "crashed", redflagv1.RegistrationTokenSpec{})
	const token = "abc123.0123456789abcdefghijklmnopqrstuv"
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "crashed-token", Namespace: ns},
		Type:       controllers.TokenSecretType,
		Data:       map[string][]byte{controllers.TokenSecretKey: []byte(token)},
	}
	if err := controllerutil.SetControllerReference(tok, sec, env.Scheme); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	sink := &countingSink{}
	_, tok = reconcileToken(t, directReconciler(clock.RealClock{}, sink), client.ObjectKeyFromObject(tok))
	if tok.Status.TokenHash != sha(token) || tok.Status.TokenID != "abc123" || tok.Status.Phase != redflagv1.TokenActive {
		t.Fatalf("status %+v does not describe the existing token", tok.Status)
	}
	var after corev1.Secret
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(sec), &after); err != nil || after.UID != sec.UID {
		t.Fatalf("the Secret was replaced (%v)", err)
	}
	if got := sink.counts(); got["TokenCreated"] != 1 || got["TokenRegenerated"] != 0 {
		t.Errorf("events %v", got)
	}
}

// TestTokenSecretNameTaken: a Secret of the same name that the token does
// not own is never read or adopted; the token is Stalled until it is gone.
func TestTokenSecretNameTaken(t *testing.T) {
	ns := tokenNamespace(t)
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db-token", Namespace: ns},
		StringData: map[string]string{"password": "not yours"},
	}
	if err := env.Client.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	tok := createToken(t, ns, "db", redflagv1.RegistrationTokenSpec{})
	key := client.ObjectKeyFromObject(tok)
	sink := &countingSink{}
	r := directReconciler(clock.RealClock{}, sink)

	res, tok := reconcileToken(t, r, key)
	if tok.Status.Phase != redflagv1.TokenPending || tok.Status.TokenHash != "" || res.RequeueAfter == 0 {
		t.Fatalf("phase %s hash %q requeue %s; want Pending, none, a retry", tok.Status.Phase, tok.Status.TokenHash, res.RequeueAfter)
	}
	if c := meta.FindStatusCondition(tok.Status.Conditions, redflagv1.ConditionStalled); c == nil || c.Reason != "TokenSecretConflict" {
		t.Errorf("Stalled = %+v", c)
	}
	reconcileToken(t, r, key) // still in the way: no second Event
	if err := env.Client.Delete(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	_, tok = reconcileToken(t, r, key)
	if tok.Status.Phase != redflagv1.TokenActive || meta.FindStatusCondition(tok.Status.Conditions, redflagv1.ConditionStalled) != nil {
		t.Fatalf("after the Secret went: phase %s, conditions %+v", tok.Status.Phase, tok.Status.Conditions)
	}
	if got := sink.counts(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"TokenSecretConflict": 1, "TokenCreated": 1, "TokenActive": 1}) {
		t.Errorf("events %v", got)
	}
}

// TestTokenRecreatedWithSameName: envtest runs no garbage collector, just
// as a busy cluster may be slow to: the Secret of a deleted token of the
// same name is replaced, not reported as a conflict.
func TestTokenRecreatedWithSameName(t *testing.T) {
	ns := tokenNamespace(t)
	r := directReconciler(clock.RealClock{}, &countingSink{})
	first := createToken(t, ns, "again", redflagv1.RegistrationTokenSpec{})
	_, first = reconcileToken(t, r, client.ObjectKeyFromObject(first))
	oldToken, _ := readToken(t, first)
	if err := env.Client.Delete(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	second := createToken(t, ns, "again", redflagv1.RegistrationTokenSpec{})
	_, second = reconcileToken(t, r, client.ObjectKeyFromObject(second))
	newToken, _ := readToken(t, second) // checks it is owned by the new token
	if second.Status.Phase != redflagv1.TokenActive || newToken == oldToken {
		t.Fatalf("phase %s, token replaced: %v", second.Status.Phase, newToken != oldToken)
	}
}

// staleReader serves one fixed, outdated copy of the token, as a lagging
// informer cache would.
type staleReader struct {
	client.Client
	stale *redflagv1.RegistrationToken
}

func (s staleReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if tok, ok := obj.(*redflagv1.RegistrationToken); ok && key == client.ObjectKeyFromObject(s.stale) {
		s.stale.DeepCopyInto(tok)
		return nil
	}
	return s.Client.Get(ctx, key, obj, opts...)
}

// TestTokenStaleCopyNeverOverwritesSeats: the gateway counts the last seat
// after the controller read the token. The controller's write must be
// refused (and retried), not reset the seat count or mark it Active.
func TestTokenStaleCopyNeverOverwritesSeats(t *testing.T) {
	ns := tokenNamespace(t)
	tok := createToken(t, ns, "race", redflagv1.RegistrationTokenSpec{MaxUses: ptr.To[int32](1)})
	key := client.ObjectKeyFromObject(tok)
	clk := clock.RealClock{}
	sink := &countingSink{}
	_, stale := reconcileToken(t, directReconciler(clk, sink), key)
	// Something for the controller to write: the spec moves on.
	stale.Spec.Description = "changed"
	if err := env.Client.Update(context.Background(), stale); err != nil {
		t.Fatal(err)
	}
	useSeats(t, key, 1) // the gateway wins the race

	r := &controllers.RegistrationTokenReconciler{
		Client: staleReader{Client: env.Client, stale: stale}, APIReader: env.Client,
		Recorder: events.NewRecorder(sink, clk), Clock: clk,
	}
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("stale write: result %+v, error %v; want a quiet retry", res, err)
	}
	var now redflagv1.RegistrationToken
	if err := env.Client.Get(context.Background(), key, &now); err != nil {
		t.Fatal(err)
	}
	if now.Status.UsedCount != 1 || len(now.Status.EnrolledAgents) != 1 {
		t.Fatalf("the gateway's seat was overwritten: %+v", now.Status)
	}
	// With a fresh read it becomes Exhausted.
	_, fresh := reconcileToken(t, directReconciler(clk, sink), key)
	if fresh.Status.Phase != redflagv1.TokenExhausted || fresh.Status.UsedCount != 1 {
		t.Fatalf("phase %s used %d", fresh.Status.Phase, fresh.Status.UsedCount)
	}
	if got := sink.counts(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"TokenCreated": 1, "TokenActive": 1, "TokenExhausted": 1}) {
		t.Errorf("events %v", got)
	}
}
