package controllers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/conditions"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/reconcile"
)

// The token Secret's shape. Hosts are given the value of TokenSecretKey.
const (
	TokenSecretType  corev1.SecretType = "redflag.io/registration-token"
	TokenSecretKey                     = "token"
	TokenIDSecretKey                   = "token-id"
)

// A token is `<id>.<secret>`, the kubeadm bootstrap-token shape, but with a
// 32-character secret: kubeadm's 16 characters of [a-z0-9] give about 82
// bits and DESIGN.md asks for at least 128; 32 give about 165.
const (
	tokenIDLength     = 6
	tokenSecretLength = 32
	tokenAlphabet     = "abcdefghijklmnopqrstuvwxyz0123456789"
)

var tokenPattern = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{32}$`)

const (
	// secretConflictRetry polls for a foreign Secret in the way to go: it
	// is not owned by the token, so no watch event tells when it does.
	secretConflictRetry = time.Minute
)

// RegistrationTokenReconciler generates each RegistrationToken's token into
// a Secret the token owns, publishes only the token's id and hash in status,
// and keeps the phase (Active, Expired, Exhausted, Revoked) true to the
// instant.
type RegistrationTokenReconciler struct {
	client.Client
	// APIReader reads token Secrets' data straight from the API server.
	// The manager caches only Secrets' metadata, so no token (nor any
	// other Secret's data) sits in its memory.
	APIReader client.Reader
	// Recorder sends each transition to an Event and the status history.
	Recorder *events.Recorder
	// Clock decides expiry; tests replace it.
	Clock clock.PassiveClock

	// verified remembers, per token, the Secret whose data was last read,
	// so a reconcile reads Secret data only when the Secret is new to this
	// process: after a restart, a crash or a replacement.
	verified sync.Map // types.NamespacedName -> verifiedSecret
}

// credential is the public view of a token: what status may show.
type credential struct {
	id, hash, secretName string
}

type verifiedSecret struct {
	uid  types.UID
	cred credential
}

// secretConflictError says the token's Secret name is taken by a Secret the
// token does not own; it is never adopted, since reading it would publish
// the hash of someone else's secret.
type secretConflictError struct{ name string }

func (e *secretConflictError) Error() string {
	return fmt.Sprintf("Secret %s exists and is not owned by this token", e.name)
}

// +kubebuilder:rbac:groups=redflag.io,resources=registrationtokens,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=registrationtokens/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=registrationtokens/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings one RegistrationToken's Secret and status up to date.
func (r *RegistrationTokenReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var tok redflagv1.RegistrationToken
	if err := r.Get(ctx, req.NamespacedName, &tok); err != nil {
		if apierrors.IsNotFound(err) {
			r.verified.Delete(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading RegistrationToken %s: %w", req.NamespacedName, err)
	}
	if !tok.DeletionTimestamp.IsZero() {
		// The Secret goes with it, through its owner reference.
		return ctrl.Result{}, nil
	}
	now := r.clock().Now()
	// A merge patch holds only what changed, so usedCount and
	// enrolledAgents (the gateway's) are never sent; the optimistic lock
	// refuses it if the token changed since it was read (usually the
	// gateway counting a seat), so no decision is made from a stale seat
	// count.
	pass := reconcile.Begin(r.Client, r.recorder(), &tok, reconcile.Options{})

	expires := expiry(&tok)
	tok.Status.ExpiresAt = &expires
	cred, err := r.ensureSecret(ctx, &tok)
	var conflict *secretConflictError
	var outcome error
	var wait time.Duration
	switch {
	case errors.As(err, &conflict):
		markSecretConflict(&tok, conflict, pass.Record)
		outcome = reconcile.Wait(secretConflictRetry, conflict)
	case err != nil:
		return reconcile.Result(0, err)
	default:
		applyCredential(&tok, cred, pass.Record)
		applyPhase(&tok, now, pass.Record)
		if p := tok.Status.Phase; p == redflagv1.TokenActive || p == redflagv1.TokenExhausted {
			// Wake exactly at the expiry instant (Expired outranks
			// Exhausted), not at the next resync hours later.
			wait = max(expires.Sub(now), 0)
		}
	}
	res, err := pass.Finish(ctx, wait, outcome)
	for _, e := range pass.Emitted() {
		// The id is public; the token itself is never logged.
		logger.Info("recorded", "reason", e.Reason, "tokenID", tok.Status.TokenID, "phase", tok.Status.Phase)
	}
	return res, err
}

// expiry is spec.expiresAt, else creation plus spec.ttl, else creation plus
// DefaultTokenTTL; whole seconds, as the API stores times, so that an
// unchanged token computes the same status every time.
func expiry(tok *redflagv1.RegistrationToken) metav1.Time {
	if tok.Spec.ExpiresAt != nil {
		return metav1.NewTime(tok.Spec.ExpiresAt.Truncate(time.Second))
	}
	ttl, err := time.ParseDuration(redflagv1.DefaultTokenTTL)
	if err != nil {
		ttl = 24 * time.Hour // DefaultTokenTTL is a constant; this cannot happen
	}
	if tok.Spec.TTL != nil {
		ttl = tok.Spec.TTL.Duration
	}
	// Rounded down: a token never lives longer than asked.
	return metav1.NewTime(tok.CreationTimestamp.Add(ttl).Truncate(time.Second))
}

// phaseOf ranks the phases: Revoked, then Expired, then Exhausted, else
// Active. It returns the phase and a message for the condition and Event.
func phaseOf(tok *redflagv1.RegistrationToken, now time.Time) (redflagv1.TokenPhase, string) {
	exp := tok.Status.ExpiresAt.UTC().Format(time.RFC3339)
	switch {
	case tok.Spec.Revoked:
		return redflagv1.TokenRevoked, "token is revoked (spec.revoked): it enrolls no more hosts"
	case !now.Before(tok.Status.ExpiresAt.Time):
		return redflagv1.TokenExpired, fmt.Sprintf("token expired at %s; set a later spec.expiresAt or a longer spec.ttl to use it again", exp)
	case tok.Spec.MaxUses != nil && tok.Status.UsedCount >= *tok.Spec.MaxUses:
		return redflagv1.TokenExhausted, fmt.Sprintf("all %d seats are used; raise spec.maxUses to enroll more hosts", *tok.Spec.MaxUses)
	}
	return redflagv1.TokenActive, fmt.Sprintf("token %s enrolls hosts until %s", tok.Status.TokenID, exp)
}

// phaseEvents maps each phase to the Event recorded on entering it.
var phaseEvents = map[redflagv1.TokenPhase]events.Reason{
	redflagv1.TokenActive:    events.TokenActive,
	redflagv1.TokenExpired:   events.TokenExpired,
	redflagv1.TokenExhausted: events.TokenExhausted,
	redflagv1.TokenRevoked:   events.TokenRevoked,
}

// applyPhase sets phase and conditions, recording an entry only when the
// phase changes. A token that cannot enroll is Ready=False and Stalled=True
// with the phase as reason: kstatus reads Ready=False alone as "in progress"
// (Flux would wait out its timeout), while Stalled says at once that only a
// change to the spec brings the token back.
func applyPhase(tok *redflagv1.RegistrationToken, now time.Time, record recordFunc) {
	st := &tok.Status
	phase, msg := phaseOf(tok, now)
	if phase != st.Phase {
		md := map[string]string{"tokenID": st.TokenID, "expiresAt": st.ExpiresAt.UTC().Format(time.RFC3339)}
		if phase == redflagv1.TokenRevoked {
			md["source"] = "spec.revoked"
		}
		record(phaseEvents[phase], msg, md)
		st.Phase = phase
	}
	if phase == redflagv1.TokenActive {
		conditions.MarkReady(&st.Conditions, tok.Generation, string(phase), msg)
		return
	}
	conditions.MarkStalled(&st.Conditions, tok.Generation, string(phase), msg)
}

// applyCredential publishes the token's id, hash and Secret, recording
// TokenCreated for the first token and TokenRegenerated when a new one
// replaced it.
func applyCredential(tok *redflagv1.RegistrationToken, c credential, record recordFunc) {
	st := &tok.Status
	switch {
	case st.TokenHash == "":
		record(events.TokenCreated, fmt.Sprintf("generated token %s into Secret %s (key %s)", c.id, c.secretName, TokenSecretKey),
			map[string]string{"tokenID": c.id, "secretName": c.secretName})
	case st.TokenHash != c.hash:
		record(events.TokenRegenerated,
			fmt.Sprintf("Secret %s was deleted or held no valid token: generated token %s; token %s no longer enrolls hosts", c.secretName, c.id, st.TokenID),
			map[string]string{"tokenID": c.id, "oldTokenID": st.TokenID, "secretName": c.secretName})
	}
	st.TokenID, st.TokenHash, st.SecretName = c.id, c.hash, c.secretName
}

// markSecretConflict leaves the token Pending and Stalled, with no token
// published, until the foreign Secret is gone.
func markSecretConflict(tok *redflagv1.RegistrationToken, c *secretConflictError, record recordFunc) {
	st := &tok.Status
	msg := c.Error() + "; delete or rename that Secret, or give the token another name"
	if st.Phase != redflagv1.TokenPending {
		record(events.TokenSecretConflict, msg, map[string]string{"secretName": c.name})
		st.Phase = redflagv1.TokenPending
	}
	st.TokenID, st.TokenHash, st.SecretName = "", "", ""
	conditions.MarkStalled(&st.Conditions, tok.Generation, events.TokenSecretConflict.Name, msg)
}

// ensureSecret returns the credential of the token's Secret, creating the
// Secret when it is missing. Its data is read only when this process has not
// read that Secret (by UID) before.
func (r *RegistrationTokenReconciler) ensureSecret(ctx context.Context, tok *redflagv1.RegistrationToken) (credential, error) {
	key := client.ObjectKey{Namespace: tok.Namespace, Name: tokenSecretName(tok.Name)}
	var meta metav1.PartialObjectMetadata
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.Get(ctx, key, &meta); err != nil {
		if apierrors.IsNotFound(err) {
			return r.createSecret(ctx, tok, key)
		}
		return credential{}, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	switch ownership(&meta, tok) {
	case foreign:
		return credential{}, &secretConflictError{name: key.Name}
	case predecessor:
		if err := r.deleteSecret(ctx, &meta); err != nil {
			return credential{}, err
		}
		return r.createSecret(ctx, tok, key)
	}
	if v, ok := r.verified.Load(client.ObjectKeyFromObject(tok)); ok && v.(verifiedSecret).uid == meta.UID {
		return v.(verifiedSecret).cred, nil
	}
	return r.readSecret(ctx, tok, key)
}

// readSecret reads the Secret's token from the API server (not the cache):
// after a crash between creating the Secret and writing status, the token
// is recovered from here, so nothing is lost.
func (r *RegistrationTokenReconciler) readSecret(ctx context.Context, tok *redflagv1.RegistrationToken, key client.ObjectKey) (credential, error) {
	var sec corev1.Secret
	if err := r.reader().Get(ctx, key, &sec); err != nil {
		// NotFound included: the cache was behind; the next reconcile
		// (backed off) finds out which is true.
		return credential{}, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	switch ownership(&sec, tok) {
	case foreign:
		return credential{}, &secretConflictError{name: key.Name}
	case predecessor:
		if err := r.deleteSecret(ctx, &sec); err != nil {
			return credential{}, err
		}
		return credential{}, fmt.Errorf("deleted Secret %s left by an earlier token of the same name; a new one follows", key)
	}
	token := string(sec.Data[TokenSecretKey])
	if !tokenPattern.MatchString(token) {
		// Ours but unusable (immutable, so it was created this way):
		// replace it, which the next reconcile records as regenerated.
		if err := r.deleteSecret(ctx, &sec); err != nil {
			return credential{}, err
		}
		return credential{}, fmt.Errorf("the Secret %s held no valid token under key %q; deleted it so a new one is generated", key, TokenSecretKey)
	}
	return r.remember(tok, sec.UID, credentialOf(token, key.Name)), nil
}

// createSecret generates a new token into a new immutable Secret owned by
// tok. If the Secret exists after all (the cache was behind), it is read.
func (r *RegistrationTokenReconciler) createSecret(ctx context.Context, tok *redflagv1.RegistrationToken, key client.ObjectKey) (credential, error) {
	token, err := generateToken()
	if err != nil {
		return credential{}, err
	}
	immutable := true
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      key.Name,
			Namespace: key.Namespace,
			Labels:    map[string]string{redflagv1.LabelToken: labelValue(tok.Name)},
		},
		Type: TokenSecretType,
		// Immutable: nobody edits a token in place (the API server
		// refuses it); replacing means deleting, which the controller
		// notices and answers with a new token.
		Immutable: &immutable,
		Data: map[string][]byte{
			TokenSecretKey:   []byte(token),
			TokenIDSecretKey: []byte(token[:tokenIDLength]),
		},
	}
	if err := controllerutil.SetControllerReference(tok, sec, r.Scheme()); err != nil {
		return credential{}, fmt.Errorf("owning Secret %s: %w", key, err)
	}
	if err := r.Create(ctx, sec); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return r.readSecret(ctx, tok, key)
		}
		return credential{}, fmt.Errorf("creating Secret %s: %w", key, err)
	}
	return r.remember(tok, sec.UID, credentialOf(token, key.Name)), nil
}

// deleteSecret deletes exactly the Secret that was inspected (UID
// precondition), never one created in its place meanwhile.
func (r *RegistrationTokenReconciler) deleteSecret(ctx context.Context, obj client.Object) error {
	uid := obj.GetUID()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: obj.GetName(), Namespace: obj.GetNamespace()}}
	if err := r.Delete(ctx, sec, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Secret %s/%s: %w", sec.Namespace, sec.Name, err)
	}
	return nil
}

func (r *RegistrationTokenReconciler) remember(tok *redflagv1.RegistrationToken, uid types.UID, c credential) credential {
	r.verified.Store(client.ObjectKeyFromObject(tok), verifiedSecret{uid: uid, cred: c})
	return c
}

type owner int

const (
	ours        owner = iota
	predecessor       // controlled by a deleted token of the same name, awaiting garbage collection
	foreign
)

// ownership tells whose Secret obj is. A Secret whose controller is a
// RegistrationToken of this name but another UID is a leftover of a deleted
// token: replacing it is safe and quicker than waiting for the garbage
// collector.
func ownership(obj metav1.Object, tok *redflagv1.RegistrationToken) owner {
	ref := metav1.GetControllerOfNoCopy(obj)
	switch {
	case ref == nil:
		return foreign
	case ref.UID == tok.UID:
		return ours
	case ref.Kind == "RegistrationToken" && ref.Name == tok.Name &&
		strings.HasPrefix(ref.APIVersion, redflagv1.GroupVersion.Group+"/"):
		return predecessor
	}
	return foreign
}

// credentialOf is what status shows of token: its id and SHA-256, which the
// gateway compares against what a host presents.
func credentialOf(token, secretName string) credential {
	sum := sha256.Sum256([]byte(token))
	return credential{id: token[:tokenIDLength], hash: hex.EncodeToString(sum[:]), secretName: secretName}
}

// generateToken returns `<id>.<secret>` from crypto/rand.
func generateToken() (string, error) {
	id, err := randomString(tokenIDLength)
	if err != nil {
		return "", err
	}
	secret, err := randomString(tokenSecretLength)
	if err != nil {
		return "", err
	}
	return id + "." + secret, nil
}

// randomString draws n characters uniformly from tokenAlphabet, rejecting
// bytes above the largest multiple of its size so no character is likelier.
func randomString(n int) (string, error) {
	const limit = 256 - 256%len(tokenAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, tokenAlphabet[int(b)%len(tokenAlphabet)])
			}
		}
	}
	return string(out), nil
}

// tokenSecretName is `<token>-token`, or for names too long for that, a
// cut name with a hash of the whole so two long names do not collide.
func tokenSecretName(tokenName string) string {
	const suffix, max = "-token", 253
	if len(tokenName)+len(suffix) <= max {
		return tokenName + suffix
	}
	sum := sha256.Sum256([]byte(tokenName))
	short := strings.TrimRight(tokenName[:max-len(suffix)-9], "-.")
	return short + "-" + hex.EncodeToString(sum[:4]) + suffix
}

// labelValue fits a token name into a label value (63 characters); the
// owner reference, not the label, is what ties a Secret to its token.
func labelValue(name string) string {
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.Trim(name, "-.")
}

func (r *RegistrationTokenReconciler) clock() clock.PassiveClock {
	if r.Clock == nil {
		return clock.RealClock{}
	}
	return r.Clock
}

// recorder falls back to one that keeps history but sends no Events.
func (r *RegistrationTokenReconciler) recorder() *events.Recorder {
	if r.Recorder == nil {
		return events.NewRecorder(nil, r.clock())
	}
	return r.Recorder
}

func (r *RegistrationTokenReconciler) reader() client.Reader {
	if r.APIReader == nil {
		return r.Client
	}
	return r.APIReader
}

// SetupWithManager registers the reconciler with the manager. Token Secrets
// are watched as metadata only: enough to notice a deleted Secret, without
// caching any Secret's data.
func (r *RegistrationTokenReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&redflagv1.RegistrationToken{}).
		Owns(&corev1.Secret{}, builder.OnlyMetadata).
		Named("registrationtoken").
		Complete(r)
}
