package release

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChooseServesTheOperatorsStoreFirst: the operator's store and key win;
// the bundled store is served only under its own key.
func TestChooseServesTheOperatorsStoreFirst(t *testing.T) {
	bundled := t.TempDir()
	pub, _, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	key, otherKey := base64.StdEncoding.EncodeToString(pub), base64.StdEncoding.EncodeToString(other)
	if err := os.WriteFile(filepath.Join(bundled, BundledKeyFile), []byte(key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, key, bundledDir string
		want                       Served
	}{
		{"operator's store and key", "/srv/releases", otherKey, bundled, Served{Dir: "/srv/releases", PublicKey: otherKey}},
		{"operator's store, no key", "/srv/releases", "", bundled, Served{Dir: "/srv/releases"}},
		{"nothing given: the bundled store", "", "", bundled, Served{Dir: bundled, PublicKey: key, Bundled: true}},
		{"the bundled store's own key given", "", key, bundled, Served{Dir: bundled, PublicKey: key, Bundled: true}},
		{"another key given: nothing served", "", otherKey, bundled, Served{PublicKey: otherKey}},
		{"no bundled store (not the image)", "", "", filepath.Join(bundled, "missing"), Served{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Choose(tc.dir, tc.key, tc.bundledDir)
			if err != nil || got != tc.want {
				t.Errorf("Choose = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}

	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, BundledKeyFile), []byte("not a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Choose("", "", broken); err == nil || !strings.Contains(err.Error(), "bundled agent release") {
		t.Errorf("a garbled bundled key: %v; want an error naming the bundled release", err)
	}
}
