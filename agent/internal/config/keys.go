package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
)

// decodeBase64 accepts standard base64 with padding only; the server's
// pattern for public keys is the same, so what passes here passes there.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("is not standard base64: %w", err)
	}
	return b, nil
}

func decodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := decodeBase64(s)
	if err != nil {
		return nil, err
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d (an Ed25519 public key)", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

func decodePrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := decodeBase64(s)
	if err != nil {
		return nil, err
	}
	return privateKeyFromBytes(b)
}

// privateKeyFromBytes accepts the 32-byte seed or the 64-byte seed||public
// form. For the long form it checks the stored public half, because
// crypto/ed25519 would otherwise sign with a key that verifies nowhere.
func privateKeyFromBytes(b []byte) (ed25519.PrivateKey, error) {
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		key := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !key.Equal(ed25519.PrivateKey(b)) {
			return nil, fmt.Errorf("its public half does not belong to its seed")
		}
		return key, nil
	default:
		return nil, fmt.Errorf("decodes to %d bytes, want %d (Ed25519 seed) or %d", len(b), ed25519.SeedSize, ed25519.PrivateKeySize)
	}
}
