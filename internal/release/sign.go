package release

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
)

// signatureDomain separates release signatures from every other signature
// made with Ed25519 keys in RedFlag (work documents, requests), so no
// signature can be replayed as another kind.
const signatureDomain = "REDFLAG-RELEASE-V1\n"

// envelope is the manifest.json file: the manifest's exact bytes and their
// signature, both base64 (encoding/json's []byte encoding).
type envelope struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// Errors from Verify. Each is matched with errors.Is; the agent turns them
// into the reasons it reports (SignatureMissing, SignatureInvalid, ...).
var (
	// ErrUnsigned: the file has no signature (or is a bare manifest).
	ErrUnsigned = errors.New("release manifest is not signed")
	// ErrBadSignature: the signature does not verify with the key: another
	// key signed it, or the payload was changed after signing.
	ErrBadSignature = errors.New("release manifest signature does not verify")
	// ErrBadKey: the public key given to Verify is not an Ed25519 key.
	ErrBadKey = errors.New("release public key is not a 32-byte Ed25519 key")
)

// Sign validates m and returns the manifest.json bytes: an envelope holding
// m's JSON and its signature by key. m.Version may lack its "v"; File may
// be empty (BinaryName(m.OS) is filled in).
func Sign(m Manifest, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("release private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if v, err := CanonicalVersion(m.Version); err == nil {
		m.Version = v
	}
	if m.File == "" {
		m.File = BinaryName(m.OS)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	out, err := json.MarshalIndent(envelope{Payload: payload, Signature: ed25519.Sign(key, signedBytes(payload))}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding manifest envelope: %w", err)
	}
	return append(out, '\n'), nil
}

// Verify checks data (a manifest.json) against key and returns the
// manifest it carries, valid by Validate. The signature is checked over
// the exact payload bytes before they are decoded.
func Verify(data []byte, key ed25519.PublicKey) (Manifest, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return Manifest{}, fmt.Errorf("%w: not a manifest envelope: %w", ErrInvalidManifest, err)
	}
	if len(env.Signature) == 0 {
		return Manifest{}, ErrUnsigned
	}
	if len(key) != ed25519.PublicKeySize {
		return Manifest{}, fmt.Errorf("%w (got %d bytes)", ErrBadKey, len(key))
	}
	if !ed25519.Verify(key, signedBytes(env.Payload), env.Signature) {
		return Manifest{}, ErrBadSignature
	}
	var m Manifest
	if err := json.Unmarshal(env.Payload, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: signed payload is not a manifest: %w", ErrInvalidManifest, err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

func signedBytes(payload []byte) []byte {
	b := make([]byte, 0, len(signatureDomain)+len(payload))
	return append(append(b, signatureDomain...), payload...)
}
