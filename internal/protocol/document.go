package protocol

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// documentDomain separates work-document signatures from request signatures.
const documentDomain = "REDFLAG-WORK-V1\n"

// SignedDocument is a WorkDocument as signed bytes: the agent verifies the
// exact bytes it got before it decodes them.
type SignedDocument struct {
	// Payload is the WorkDocument's JSON (base64 in transit, by encoding/json).
	Payload []byte `json:"payload"`
	// Signature is the manager's Ed25519 signature over the domain and Payload.
	Signature []byte `json:"signature"`
}

// SignDocument encodes and signs a work document.
func SignDocument(doc WorkDocument, key ed25519.PrivateKey) (SignedDocument, error) {
	payload, err := json.Marshal(doc)
	if err != nil {
		return SignedDocument{}, fmt.Errorf("encoding work document: %w", err)
	}
	return SignedDocument{Payload: payload, Signature: ed25519.Sign(key, append([]byte(documentDomain), payload...))}, nil
}

// Errors from OpenDocument.
var (
	ErrDocumentSignature = errors.New("work document signature does not verify")
	ErrDocumentForOther  = errors.New("work document is for another agent")
	ErrDocumentExpired   = errors.New("work document has expired")
)

// OpenDocument verifies a signed document and checks that it names this
// agent and machine and has not expired.
func OpenDocument(sd SignedDocument, key ed25519.PublicKey, agent, machineID string, now time.Time) (WorkDocument, error) {
	if len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, append([]byte(documentDomain), sd.Payload...), sd.Signature) {
		return WorkDocument{}, ErrDocumentSignature
	}
	var doc WorkDocument
	if err := json.Unmarshal(sd.Payload, &doc); err != nil {
		return WorkDocument{}, fmt.Errorf("decoding work document: %w", err)
	}
	if doc.Agent != agent || doc.MachineID != machineID {
		return WorkDocument{}, fmt.Errorf("%w: it names %s (machine %s)", ErrDocumentForOther, doc.Agent, doc.MachineID)
	}
	if !now.Before(doc.ExpiresAt) {
		return WorkDocument{}, fmt.Errorf("%w at %s", ErrDocumentExpired, doc.ExpiresAt.Format(time.RFC3339))
	}
	return doc, nil
}
