package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/metrics"
	"github.com/redflag-io/redflag/internal/protocol"
)

var (
	tokenPattern     = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{32})$`)
	machineIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	labelValueChars  = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
	dnsLabelChars    = regexp.MustCompile(`[^a-z0-9-]+`)
)

// errRegistration is a refusal with its HTTP status and code.
type errRegistration struct {
	status int
	code   string
	msg    string
}

func (e *errRegistration) Error() string { return e.msg }

func refuse(status int, code, format string, args ...any) error {
	return &errRegistration{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// invalidToken is one answer for an unknown id and a wrong secret, so the
// answer does not tell which token ids exist.
var invalidToken = refuse(http.StatusUnauthorized, protocol.CodeInvalidToken, "registration token is not valid")

func (g *Gateway) handleRegister(w http.ResponseWriter, r *http.Request) {
	now := g.clock.Now()
	// Failed enrollments (a wrong or dead token) spend this address's
	// budget; good ones do not, so a fleet behind one NAT can enroll at
	// speed while guessing token secrets cannot.
	ip := clientIP(r)
	if blocked, wait := g.registerLimits.blocked(ip, now); blocked {
		g.metrics.Enrollments.WithLabelValues("", "", protocol.CodeRateLimited).Inc()
		failRetry(w, http.StatusTooManyRequests, protocol.CodeRateLimited, retryAfterSeconds(wait), "too many failed registration attempts from this address")
		return
	}
	body, ok := readBody(w, r, protocol.MaxRegisterBody, g.log)
	if !ok {
		return
	}
	var req protocol.RegisterRequest
	if !decode(w, body, &req) {
		return
	}
	if err := validateRegister(&req); err != nil {
		g.registerLimits.take(ip, now)
		g.countEnrollment(&req, protocol.CodeBadRequest)
		fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "%v", err)
		return
	}
	agent, created, err := g.register(r.Context(), &req, now)
	if err != nil {
		g.registerLimits.take(ip, now)
		var refusal *errRegistration
		switch {
		case errors.As(err, &refusal):
			g.countEnrollment(&req, refusal.code)
			fail(w, refusal.status, refusal.code, "%s", refusal.msg)
		case isUnavailable(err):
			g.countEnrollment(&req, protocol.CodeUnavailable)
			failRetry(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, 10, "the cluster cannot be reached; retry later")
		default:
			g.countEnrollment(&req, protocol.CodeInternal)
			g.log.Error(err, "registration failed", "machineID", req.MachineID)
			fail(w, http.StatusInternalServerError, protocol.CodeInternal, "registration failed; see the gateway's log")
		}
		return
	}
	result := metrics.EnrollReenrolled
	if created {
		result = metrics.EnrollEnrolled
	}
	g.countEnrollment(&req, result)
	reply(w, protocol.RegisterResponse{
		Namespace: agent.Namespace, AgentName: agent.Name, Created: created,
		WorkPublicKey:   g.workPublicKey,
		CheckInInterval: protocol.Duration{Duration: g.intervalOf(recordOf(agent))},
	})
}

// countEnrollment counts a registration that named a well-formed token
// under the token it names. Only a token id the gateway knows becomes a
// label value, so guessed ids all count under the empty name and cannot
// add series.
func (g *Gateway) countEnrollment(req *protocol.RegisterRequest, result string) {
	var ref client.ObjectKey
	if m := tokenPattern.FindStringSubmatch(req.Token); m != nil {
		ref, _ = g.tokens.lookup(m[1])
	}
	g.metrics.Enrollments.WithLabelValues(ref.Namespace, ref.Name, result).Inc()
}

func validateRegister(req *protocol.RegisterRequest) error {
	if !tokenPattern.MatchString(req.Token) {
		return errors.New("token must look like <6 characters>.<32 characters>, as in the token Secret")
	}
	if !machineIDPattern.MatchString(req.MachineID) {
		return errors.New("machineID must be 1-128 characters of letters, digits and ._:-")
	}
	if _, err := protocol.ParsePublicKey(req.PublicKey); err != nil {
		// A fixed text: the client gets this message, and encoding/base64's
		// ("illegal base64 data at input byte 4") is Go's, not the protocol's.
		return errors.New("publicKey must be the standard base64 of a 32-byte Ed25519 public key")
	}
	if len(req.Hostname) > 253 || len(req.AgentVersion) > 64 {
		return errors.New("hostname (253) or agentVersion (64) is too long")
	}
	// Checked before the token, like every field: a bad label is refused
	// with nothing written and no seat taken, even for a host already
	// enrolled (whose labels would not be applied anyway).
	return protocol.ValidateLabels(req.Labels)
}

// register enrolls the host, or returns its Agent when the same host (same
// machine ID and key) registers again, using no second seat. created says
// this request made the Agent (and so set the labels it asked for).
func (g *Gateway) register(ctx context.Context, req *protocol.RegisterRequest, now time.Time) (agent *redflagv1.Agent, created bool, err error) {
	m := tokenPattern.FindStringSubmatch(req.Token)
	ref, ok := g.tokens.lookup(m[1])
	if !ok {
		return nil, false, invalidToken
	}
	// The cached copy is enough to check the secret and expiry; the seat
	// is taken on a fresh read (takeSeat), which checks again.
	var tok redflagv1.RegistrationToken
	if err := g.client.Get(ctx, ref, &tok); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, invalidToken
		}
		return nil, false, fmt.Errorf("reading token %s: %w", ref, err)
	}
	sum := sha256.Sum256([]byte(req.Token))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(tok.Status.TokenHash)) != 1 {
		return nil, false, invalidToken
	}
	// From here the host holds the token's secret: a refusal is news for
	// the token's owner, recorded on the token (rate-limited).
	defer func() {
		var refusal *errRegistration
		if errors.As(err, &refusal) {
			g.noteRefusal(ctx, ref, m[1], refusal.code, req, refusal.msg, now)
		}
	}()
	if err := usable(&tok, now); err != nil {
		return nil, false, err
	}

	name := agentName(req.Hostname, req.MachineID)
	var existing redflagv1.Agent
	err = g.reader.Get(ctx, client.ObjectKey{Namespace: tok.Namespace, Name: name}, &existing)
	switch {
	case err == nil:
		if existing.Spec.MachineID != req.MachineID || existing.Spec.PublicKey != req.PublicKey {
			return nil, false, refuse(http.StatusConflict, protocol.CodeKeyMismatch,
				"agent %s/%s is enrolled with another key; to enroll this host anew, delete that Agent first", tok.Namespace, name)
		}
		return &existing, false, nil
	case !apierrors.IsNotFound(err):
		return nil, false, fmt.Errorf("reading agent %s/%s: %w", tok.Namespace, name, err)
	}

	if err := g.takeSeat(ctx, ref.Namespace, ref.Name, name, now); err != nil {
		return nil, false, err
	}
	agent = newAgent(&tok, name, req)
	if err := g.client.Create(ctx, agent); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// A concurrent registration of the same host won; give the
			// seat back and answer with its Agent if it is ours.
			g.releaseSeat(ctx, ref.Namespace, ref.Name)
			if gerr := g.reader.Get(ctx, client.ObjectKeyFromObject(agent), &existing); gerr == nil &&
				existing.Spec.MachineID == req.MachineID && existing.Spec.PublicKey == req.PublicKey {
				return &existing, false, nil
			}
			return nil, false, refuse(http.StatusConflict, protocol.CodeKeyMismatch, "agent %s/%s is enrolled with another key", tok.Namespace, name)
		}
		g.releaseSeat(ctx, ref.Namespace, ref.Name)
		return nil, false, fmt.Errorf("creating agent %s/%s: %w", tok.Namespace, name, err)
	}
	g.initialStatus(ctx, agent, req, now)
	return agent, true, nil
}

// usable refuses a token that cannot enroll now, judged from its spec and
// status directly so a token is never honoured past its instant, even before
// its controller has flipped the phase.
func usable(tok *redflagv1.RegistrationToken, now time.Time) error {
	switch {
	case tok.Spec.Revoked || tok.Status.Phase == redflagv1.TokenRevoked:
		return refuse(http.StatusForbidden, protocol.CodeTokenRevoked, "registration token is revoked")
	case tok.Status.ExpiresAt == nil:
		return refuse(http.StatusServiceUnavailable, protocol.CodeUnavailable, "registration token is not active yet")
	case !now.Before(tok.Status.ExpiresAt.Time) || tok.Status.Phase == redflagv1.TokenExpired:
		return refuse(http.StatusForbidden, protocol.CodeTokenExpired, "registration token expired at %s", tok.Status.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// takeSeat counts one use on the token with optimistic concurrency: two
// registrations racing for the last seat cannot both win, because the second
// update carries a stale resourceVersion and re-reads.
func (g *Gateway) takeSeat(ctx context.Context, ns, tokenName, agent string, now time.Time) error {
	// One seat at a time per token in this replica: concurrent enrollments
	// would otherwise mostly conflict and retry. Other replicas still race,
	// and the optimistic update settles that.
	unlock := g.seatLocks.lock(ns + "/" + tokenName)
	defer unlock()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var tok redflagv1.RegistrationToken
		if err := g.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: tokenName}, &tok); err != nil {
			return fmt.Errorf("reading token %s/%s: %w", ns, tokenName, err)
		}
		if err := usable(&tok, now); err != nil {
			return err
		}
		if tok.Spec.MaxUses != nil && tok.Status.UsedCount >= *tok.Spec.MaxUses {
			return refuse(http.StatusForbidden, protocol.CodeTokenExhausted, "registration token has no seats left (%d of %d used)", tok.Status.UsedCount, *tok.Spec.MaxUses)
		}
		tok.Status.UsedCount++
		tok.Status.EnrolledAgents = append(tok.Status.EnrolledAgents, redflagv1.EnrolledAgent{Name: agent, Time: metav1.NewTime(now)})
		if n := len(tok.Status.EnrolledAgents); n > redflagv1.MaxEnrolledAgents {
			tok.Status.EnrolledAgents = tok.Status.EnrolledAgents[n-redflagv1.MaxEnrolledAgents:]
		}
		return g.client.Status().Update(ctx, &tok)
	})
}

// releaseSeat gives back a seat taken for an enrollment that then failed.
// If it cannot, the token shows one use too many: safe, never overspent.
func (g *Gateway) releaseSeat(ctx context.Context, ns, tokenName string) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var tok redflagv1.RegistrationToken
		if err := g.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: tokenName}, &tok); err != nil {
			return err
		}
		if tok.Status.UsedCount > 0 {
			tok.Status.UsedCount--
		}
		return g.client.Status().Update(ctx, &tok)
	})
	if err != nil {
		g.log.Error(err, "giving back a registration seat", "token", ns+"/"+tokenName)
	}
}

// newAgent is the Agent a first registration creates. Its labels are, from
// weakest to strongest: what the host asked for, the token's agentLabels
// (the cluster admin's word for every host the token enrolls, so a host
// cannot opt out of them), and the gateway's own redflag.io/ labels.
func newAgent(tok *redflagv1.RegistrationToken, name string, req *protocol.RegisterRequest) *redflagv1.Agent {
	labels := make(map[string]string, len(req.Labels)+len(tok.Spec.AgentLabels)+3)
	for k, v := range req.Labels {
		labels[k] = v
	}
	for k, v := range tok.Spec.AgentLabels {
		labels[k] = string(v)
	}
	labels[redflagv1.LabelOS] = labelValue(req.OS.Family)
	labels[redflagv1.LabelArch] = labelValue(req.OS.Arch)
	labels[redflagv1.LabelToken] = labelValue(tok.Name)
	return &redflagv1.Agent{
		ObjectMeta: metav1.ObjectMeta{Namespace: tok.Namespace, Name: name, Labels: labels},
		Spec:       redflagv1.AgentSpec{MachineID: req.MachineID, PublicKey: req.PublicKey},
	}
}

// initialStatus stores what the host said of itself at enrollment. A failure
// here is not fatal: the first check-in asks for facts again.
func (g *Gateway) initialStatus(ctx context.Context, agent *redflagv1.Agent, req *protocol.RegisterRequest, now time.Time) {
	// Blind, not locked to the create's resourceVersion: the Agent
	// controller adds its finalizer right after the create, and a write
	// carrying that version then lost the race and left the status empty.
	// The status is empty, so every field set is new.
	w := statusWrite{key: client.ObjectKeyFromObject(agent), blind: true}
	err := g.patchStatus(ctx, w, func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error) {
		setFirstStatus(a, req, now)
		return nil, nil
	})
	if err != nil {
		g.log.Error(err, "writing a new agent's first status", "agent", agent.Namespace+"/"+agent.Name)
	}
}

// setFirstStatus fills the status with what the host said of itself,
// cut to the schema's bounds.
func setFirstStatus(agent *redflagv1.Agent, req *protocol.RegisterRequest, now time.Time) {
	agent.Status.Hostname = truncate(req.Hostname, 253)
	agent.Status.AgentVersion = truncate(req.AgentVersion, 64)
	agent.Status.OS = clampOS(osInfoFromWire(req.OS))
	agent.Status.LastSeen = &metav1.Time{Time: now.Truncate(time.Second)}
}

// agentName is "<hostname>-<8 hex of the machine ID's hash>": readable, and
// the same every time one host registers.
func agentName(hostname, machineID string) string {
	base := dnsLabelChars.ReplaceAllString(strings.ToLower(hostname), "-")
	base = strings.Trim(base, "-")
	if len(base) > 50 {
		base = strings.Trim(base[:50], "-")
	}
	if base == "" {
		base = "host"
	}
	sum := sha256.Sum256([]byte(machineID))
	return base + "-" + hex.EncodeToString(sum[:4])
}

// labelValue makes s a valid label value (or empty).
func labelValue(s string) string {
	s = labelValueChars.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-_.")
}

func clampOS(o redflagv1.OSInfo) redflagv1.OSInfo {
	return redflagv1.OSInfo{
		Family: truncate(o.Family, 32), Distribution: truncate(o.Distribution, 64), Version: truncate(o.Version, 64),
		PrettyName: truncate(o.PrettyName, 128), Kernel: truncate(o.Kernel, 128), Arch: truncate(o.Arch, 32),
	}
}
