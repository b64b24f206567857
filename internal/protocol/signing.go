package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed request.
const (
	HeaderAgent     = "X-RedFlag-Agent"
	HeaderMachineID = "X-RedFlag-Machine-ID"
	HeaderTimestamp = "X-RedFlag-Timestamp"
	HeaderNonce     = "X-RedFlag-Nonce"
	HeaderSignature = "X-RedFlag-Signature"
	// HeaderContentSHA256 carries the hex SHA-256 of the body. The
	// signature covers that hash anyway; sending it ahead of the body lets
	// the gateway check who signed a request before it reads (and holds in
	// memory) a single byte of the body, and then that the body is the one
	// signed.
	HeaderContentSHA256 = "X-RedFlag-Content-SHA256"
)

// signingDomain separates these signatures from any other use of the key.
const signingDomain = "REDFLAG-REQUEST-V1"

// RequestAuth is what a signed request claims about itself.
type RequestAuth struct {
	// Agent is "namespace/name".
	Agent     string
	MachineID string
	Timestamp time.Time
	Nonce     string
	Signature []byte
}

// canonical is the exact byte string a host signs: every part that matters
// for the request's meaning, so none can be changed without breaking it.
func canonical(method, pathAndQuery string, a RequestAuth, bodyHash string) []byte {
	return []byte(strings.Join([]string{
		signingDomain, method, pathAndQuery, a.Agent, a.MachineID,
		strconv.FormatInt(a.Timestamp.Unix(), 10), a.Nonce, bodyHash,
	}, "\n"))
}

// BodyHash is the hex SHA-256 a signature covers and HeaderContentSHA256
// carries.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// NewNonce returns 16 random bytes, base64url.
func NewNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SignRequest sets the signature headers on req for body, which must be the
// exact bytes sent.
func SignRequest(req *http.Request, body []byte, key ed25519.PrivateKey, agent, machineID string, now time.Time) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("signing key has %d bytes, want an Ed25519 private key of %d", len(key), ed25519.PrivateKeySize)
	}
	nonce, err := NewNonce()
	if err != nil {
		return err
	}
	a := RequestAuth{Agent: agent, MachineID: machineID, Timestamp: now, Nonce: nonce}
	hash := BodyHash(body)
	sig := ed25519.Sign(key, canonical(req.Method, req.URL.RequestURI(), a, hash))
	req.Header.Set(HeaderAgent, agent)
	req.Header.Set(HeaderMachineID, machineID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	req.Header.Set(HeaderContentSHA256, hash)
	return nil
}

// ErrMissingAuth is returned for a request without signature headers.
var ErrMissingAuth = errors.New("request is not signed: the X-RedFlag-* headers are missing")

// ErrMalformedAuth is returned for signature headers that are present but
// not well-formed.
var ErrMalformedAuth = errors.New("malformed signature headers")

// ParseRequestAuth reads the signature headers without checking them.
func ParseRequestAuth(h http.Header) (RequestAuth, error) {
	agent, mid, ts, nonce, sig := h.Get(HeaderAgent), h.Get(HeaderMachineID), h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature)
	if agent == "" || ts == "" || nonce == "" || sig == "" {
		return RequestAuth{}, ErrMissingAuth
	}
	if len(agent) > 320 || len(mid) > 128 || len(nonce) > 64 || len(sig) > 128 {
		return RequestAuth{}, fmt.Errorf("%w: signature headers are too long", ErrMalformedAuth)
	}
	// The gateway sends these errors to the client, so they carry no
	// strconv text and do not echo the header back.
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < 0 || unix > MaxTimestamp {
		// time.Unix wraps around for seconds near the int64 limits, and no
		// clock a host runs is before 1970 or past year 9999: such a value
		// is malformed, not merely stale.
		return RequestAuth{}, fmt.Errorf("%w: %s is not Unix seconds between 1970 and 9999", ErrMalformedAuth, HeaderTimestamp)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return RequestAuth{}, fmt.Errorf("%w: %s is not a base64 Ed25519 signature", ErrMalformedAuth, HeaderSignature)
	}
	return RequestAuth{Agent: agent, MachineID: mid, Timestamp: time.Unix(unix, 0), Nonce: nonce, Signature: raw}, nil
}

// MaxTimestamp is the largest X-RedFlag-Timestamp that parses: the last
// second of year 9999, the largest year RFC 3339 (and so JSON) can write.
const MaxTimestamp = 253402300799

// TimestampWithin reports whether the request's timestamp lies within skew
// of now, on either side. It compares times instead of subtracting them:
// now.Sub saturates at about ±292 years, and the negation of the saturated
// minimum overflows back to itself, so a check written as
// |now.Sub(ts)| <= skew let a timestamp centuries ahead pass as fresh.
func (a RequestAuth) TimestampWithin(now time.Time, skew time.Duration) bool {
	return !a.Timestamp.Before(now.Add(-skew)) && !a.Timestamp.After(now.Add(skew))
}

// VerifyRequest checks a's signature over the request with the host's key.
func VerifyRequest(key ed25519.PublicKey, method, pathAndQuery string, a RequestAuth, body []byte) bool {
	return VerifyRequestHash(key, method, pathAndQuery, a, BodyHash(body))
}

// VerifyRequestHash is VerifyRequest for a body known only by its hash
// (HeaderContentSHA256), before it is read. The caller must then check
// that the body it reads has that hash.
func VerifyRequestHash(key ed25519.PublicKey, method, pathAndQuery string, a RequestAuth, bodyHash string) bool {
	return len(key) == ed25519.PublicKeySize && ed25519.Verify(key, canonical(method, pathAndQuery, a, bodyHash), a.Signature)
}

// ValidBodyHash reports whether h has the form of HeaderContentSHA256: 64
// lower-case hex digits.
func ValidBodyHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ParsePublicKey decodes a base64 Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("public key is not base64: %w", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key has %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}
