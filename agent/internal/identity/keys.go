package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
)

// GenerateKey returns a new Ed25519 private key from the system's secure
// random source.
func GenerateKey() (ed25519.PrivateKey, error) {
	return generateKey(rand.Reader)
}

// generateKey exists so tests can prove a failing random source is
// reported, not turned into a weak key.
func generateKey(r io.Reader) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("generate Ed25519 key: %w", err)
	}
	return key, nil
}
