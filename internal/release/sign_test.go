package release

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	m := validManifest()
	m.Version, m.File = "1.2.3", "" // Sign canonicalizes and fills the file name
	data, err := Sign(m, priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(data, pub)
	if err != nil {
		t.Fatal(err)
	}
	if got != validManifest() {
		t.Errorf("verified %+v, want %+v", got, validManifest())
	}
}

func TestSignRefusesInvalidManifests(t *testing.T) {
	_, priv := newKey(t)
	for name, mutate := range map[string]func(*Manifest){
		"bad version":   func(m *Manifest) { m.Version = "one" },
		"no os":         func(m *Manifest) { m.OS = "" },
		"no arch":       func(m *Manifest) { m.Arch = "" },
		"path in os":    func(m *Manifest) { m.OS = "../linux" },
		"zero size":     func(m *Manifest) { m.Size = 0 },
		"short sha256":  func(m *Manifest) { m.SHA256 = "abc" },
		"upper sha256":  func(m *Manifest) { m.SHA256 = strings.ToUpper(m.SHA256) },
		"other file":    func(m *Manifest) { m.File = "sh" },
		"windows no ex": func(m *Manifest) { m.OS = "windows" },
	} {
		m := validManifest()
		mutate(&m)
		if _, err := Sign(m, priv); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: Sign = %v, want ErrInvalidManifest", name, err)
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, otherPriv := newKey(t)
	signed, err := Sign(validManifest(), priv)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := json.Unmarshal(signed, &env); err != nil {
		t.Fatal(err)
	}
	encode := func(e envelope) []byte { b, _ := json.Marshal(e); return b }
	bare, _ := json.Marshal(validManifest())

	// The payload changed after signing: a bigger size, same signature.
	tampered := env
	tampered.Payload = bytes.Replace(env.Payload, []byte(`"size":10`), []byte(`"size":11`), 1)
	if bytes.Equal(tampered.Payload, env.Payload) {
		t.Fatal("test did not tamper with the payload")
	}
	// Signed by the right key, but the signed manifest itself is invalid.
	badPayload := []byte(`{"version":"v1.2.3","os":"linux","arch":"amd64","size":-1,"sha256":"x","file":"redflag-agent"}`)
	invalidButSigned := envelope{Payload: badPayload, Signature: ed25519.Sign(priv, signedBytes(badPayload))}
	// Signed over the payload without the domain string.
	noDomain := envelope{Payload: env.Payload, Signature: ed25519.Sign(priv, env.Payload)}

	for _, tt := range []struct {
		name string
		data []byte
		key  ed25519.PublicKey
		want error
	}{
		{"bare manifest", bare, pub, ErrUnsigned},
		{"empty signature", encode(envelope{Payload: env.Payload}), pub, ErrUnsigned},
		{"empty object", []byte(`{}`), pub, ErrUnsigned},
		{"other key", signed, otherPub, ErrBadSignature},
		{"signed by other key", mustSign(t, validManifest(), otherPriv), pub, ErrBadSignature},
		{"tampered payload", encode(tampered), pub, ErrBadSignature},
		{"truncated signature", encode(envelope{Payload: env.Payload, Signature: env.Signature[:10]}), pub, ErrBadSignature},
		{"no domain", encode(noDomain), pub, ErrBadSignature},
		{"invalid signed manifest", encode(invalidButSigned), pub, ErrInvalidManifest},
		{"not JSON", []byte("redflag"), pub, ErrInvalidManifest},
		{"no key", signed, nil, ErrBadKey},
	} {
		if _, err := Verify(tt.data, tt.key); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func mustSign(t *testing.T, m Manifest, key ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := Sign(m, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
