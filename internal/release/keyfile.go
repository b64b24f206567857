package release

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// The key file holds the 32-byte Ed25519 seed (RFC 8032's private key),
// base64, one line: the same encoding as the keys in the agent's config.

// WriteNewKey creates path (mode 0600) with a new key and returns the
// public half. An existing file is never overwritten: losing a release key
// means re-pinning every host.
func WriteNewKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the key file (an existing key is never overwritten): %w", err)
	}
	_, werr := fmt.Fprintln(f, base64.StdEncoding.EncodeToString(priv.Seed()))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("writing %s: %w", path, werr)
	}
	return pub, nil
}

// ReadKey reads a key file; it also takes the 64-byte seed||public form.
// It warns when others can read the file.
func ReadKey(path string, stderr io.Writer) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "warning: %s is readable by others (mode %v); chmod 600 it\n", path, fi.Mode().Perm())
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("%s is not a base64 key: %w", path, err)
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		key := ed25519.PrivateKey(raw)
		if !key.Public().(ed25519.PublicKey).Equal(ed25519.NewKeyFromSeed(key.Seed()).Public()) {
			return nil, fmt.Errorf("%s: the public half does not match the seed", path)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("%s holds %d bytes, want a %d-byte Ed25519 seed", path, len(raw), ed25519.SeedSize)
	}
}
