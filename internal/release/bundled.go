package release

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The manager image (make image, hack/image) carries the agent release it
// was built with, so a plain `helm install` can serve /install.sh and
// self-updates without a volume: a store at BundledDir, signed at build
// time, and the public half of the key that signed it in
// BundledDir/BundledKeyFile. The private key never enters the image.
const (
	BundledDir     = "/usr/share/redflag/releases"
	BundledKeyFile = "release-public-key"
)

// Served is the release store the gateway serves and the key the install
// script pins on new hosts.
type Served struct {
	Dir       string
	PublicKey string // standard base64
	// Bundled is true when Dir is the store bundled in the image.
	Bundled bool
}

// Choose decides what the gateway serves. The operator's own store
// (--release-dir, with its --release-public-key) always wins over the
// bundled one: it holds releases signed offline with a key the cluster
// never sees. Without one, the bundled store is served when it exists and
// either no key was given or the given key is the one that signed it (an
// operator who built the image with their own key may still name it). A
// given key that did not sign the bundled store means nothing is served:
// hosts pinned to that key would refuse every bundled binary.
func Choose(dir, publicKey, bundledDir string) (Served, error) {
	if dir != "" {
		return Served{Dir: dir, PublicKey: publicKey}, nil
	}
	bundledKey, err := ReadPublicKey(filepath.Join(bundledDir, BundledKeyFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Served{PublicKey: publicKey}, nil
	case err != nil:
		return Served{}, fmt.Errorf("the bundled agent release: %w", err)
	case publicKey != "" && publicKey != bundledKey:
		return Served{PublicKey: publicKey}, nil
	}
	return Served{Dir: bundledDir, PublicKey: bundledKey, Bundled: true}, nil
}

// ReadPublicKey reads a file holding one base64 Ed25519 public key (the
// form `hack/release keygen` prints) and returns it in that form.
func ReadPublicKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the release public key: %w", err)
	}
	key := strings.TrimSpace(string(data))
	raw, err := base64.StdEncoding.Strict().DecodeString(key)
	if err != nil {
		return "", fmt.Errorf("%s is not a base64 key: %w", path, err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%s holds %d bytes, want a %d-byte Ed25519 public key", path, len(raw), ed25519.PublicKeySize)
	}
	return key, nil
}
