package docker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

func mustRef(t *testing.T, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newReg makes a Registry or fails t.
func newReg(t *testing.T, cfg RegistryConfig) *Registry {
	t.Helper()
	r, err := NewRegistry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// keychain writes config, a docker config.json, and loads it.
func keychain(t *testing.T, config string) authn.Keychain {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	kc, err := LoadKeychain(path)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func digestOf(t *testing.T, reg *Registry, ref string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return reg.Digest(ctx, mustRef(t, ref))
}

func TestDigestAnonymousTokenFlow(t *testing.T) {
	f := newFakeRegistry(t, false)
	f.set("team/app:1", dgA)
	f.set("team/app:2", dgB)
	reg := newReg(t, RegistryConfig{})
	for tag, want := range map[string]string{"1": dgA, "2": dgB} {
		got, err := digestOf(t, reg, f.host()+"/team/app:"+tag)
		if err != nil || got != want {
			t.Fatalf("tag %s: Digest = %q, %v; want %q", tag, got, err, want)
		}
	}
	// One version check, one token, then the token is reused for the
	// repository: one HEAD per tag.
	if tok, man := f.counts(); tok != 1 || man != 2 || f.pings() != 1 {
		t.Errorf("token requests %d, manifest requests %d, version checks %d; want 1, 2 and 1", tok, man, f.pings())
	}
}

func TestDigestTokenWithLogin(t *testing.T) {
	f := newFakeRegistry(t, false)
	f.set("team/app:1", dgA)
	f.login = "alice:s3cret"
	// The CLI may key a login by URL; "YWxpY2U6czNjcmV0" is alice:s3cret.
	kc := keychain(t, `{"auths":{"http://`+f.host()+`/v1/":{"auth":"YWxpY2U6czNjcmV0"}}}`)
	if got, err := digestOf(t, newReg(t, RegistryConfig{Keychain: kc}), f.host()+"/team/app:1"); err != nil || got != dgA {
		t.Fatalf("with login: %q, %v", got, err)
	}
	_, err := digestOf(t, newReg(t, RegistryConfig{}), f.host()+"/team/app:1")
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("without login: %v, want ErrUnauthorized", err)
	}
}

func TestDigestBasicChallenge(t *testing.T) {
	f := newFakeRegistry(t, false)
	f.set("app:1", dgA)
	f.basicOnly, f.login = true, "bob:pw"
	kc := keychain(t, `{"auths":{"`+f.host()+`":{"username":"bob","password":"pw"}}}`)
	if got, err := digestOf(t, newReg(t, RegistryConfig{Keychain: kc}), f.host()+"/app:1"); err != nil || got != dgA {
		t.Fatalf("with login: %q, %v", got, err)
	}
	if _, err := digestOf(t, newReg(t, RegistryConfig{}), f.host()+"/app:1"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("without login: %v, want ErrUnauthorized", err)
	}
	if tok, _ := f.counts(); tok != 0 {
		t.Errorf("%d token requests for a Basic registry", tok)
	}
}

func TestDigestFallsBackToGet(t *testing.T) {
	f := newFakeRegistry(t, false)
	f.noHeadDigest = true
	f.set("app:1", "") // and no digest header on GET either: hash the body
	sum := sha256.Sum256(f.body)
	want := "sha256:" + hex.EncodeToString(sum[:])
	if got, err := digestOf(t, newReg(t, RegistryConfig{}), f.host()+"/app:1"); err != nil || got != want {
		t.Fatalf("Digest = %q, %v; want %q", got, err, want)
	}

	f.body = bytes.Repeat([]byte("x"), maxRegistryBody+1)
	if _, err := digestOf(t, newReg(t, RegistryConfig{}), f.host()+"/app:1"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized manifest: %v, want ErrTooLarge", err)
	}
}

func TestDigestErrors(t *testing.T) {
	f := newFakeRegistry(t, false)
	if _, err := digestOf(t, newReg(t, RegistryConfig{}), f.host()+"/app:missing"); !errors.Is(err, ErrManifestUnknown) {
		t.Errorf("unknown tag: %v, want ErrManifestUnknown", err)
	}
	// Nothing listens on port 1.
	if _, err := digestOf(t, newReg(t, RegistryConfig{}), "127.0.0.1:1/app:1"); !errors.Is(err, ErrUnreachable) {
		t.Errorf("closed port: %v, want ErrUnreachable", err)
	}
}

// noProxy keeps a developer's HTTPS_PROXY from catching example.com.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// routeTo sends every connection to addr, so a secure registry name can
// be served by a local test server.
func routeTo(addr string) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func TestSecureRegistryUsesVerifiedTLS(t *testing.T) {
	f := newFakeRegistry(t, true)
	f.set("team/app:1", dgA)
	f.realm = "https://example.com/token"
	roots := x509.NewCertPool()
	roots.AddCert(f.srv.Certificate())
	ref := "example.com/team/app:1" // httptest's certificate names example.com

	pinned := newReg(t, RegistryConfig{DialContext: routeTo(f.host()), Proxy: noProxy, TLS: &tls.Config{RootCAs: roots}})
	if got, err := digestOf(t, pinned, ref); err != nil || got != dgA {
		t.Fatalf("pinned CA: Digest = %q, %v", got, err)
	}
	// Without the CA the certificate is refused: example.com is not an
	// insecure registry, so verification is never skipped.
	_, err := digestOf(t, newReg(t, RegistryConfig{DialContext: routeTo(f.host()), Proxy: noProxy}), ref)
	var unknown x509.UnknownAuthorityError
	if !errors.Is(err, ErrUnreachable) || !errors.As(err, &unknown) {
		t.Fatalf("unpinned CA: %v, want ErrUnreachable from an unknown authority", err)
	}

	// A token realm in clear text is refused before any login is sent.
	f.realm = "http://example.com/token"
	f.login = "alice:pw"
	before, _ := f.counts()
	kc := keychain(t, `{"auths":{"example.com":{"username":"alice","password":"pw"}}}`)
	_, err = digestOf(t, newReg(t, RegistryConfig{DialContext: routeTo(f.host()), Proxy: noProxy, TLS: &tls.Config{RootCAs: roots}, Keychain: kc}), ref)
	if err == nil || !strings.Contains(err.Error(), "realm") {
		t.Fatalf("clear-text realm: %v, want a refusal", err)
	}
	if after, _ := f.counts(); after != before {
		t.Errorf("the token server was asked despite its clear-text realm")
	}
}

func TestSecureRegistryNeverPlainHTTP(t *testing.T) {
	f := newFakeRegistry(t, false) // plain HTTP only
	f.set("app:1", dgA)
	_, err := digestOf(t, newReg(t, RegistryConfig{DialContext: routeTo(f.host()), Proxy: noProxy}), "example.com/app:1")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Digest over a plain-HTTP server for a secure name: %v, want ErrUnreachable", err)
	}
	if _, man := f.counts(); man != 0 {
		t.Errorf("%d manifest requests reached the plain-HTTP server", man)
	}
	// go-containerregistry would try plain HTTP for any private address;
	// the engine does not, unless told, and neither does the scanner.
	_, err = digestOf(t, newReg(t, RegistryConfig{DialContext: routeTo(f.host()), Proxy: noProxy}), "10.9.9.9:5000/app:1")
	if !errors.Is(err, errRefused) && !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Digest over plain HTTP for a private address: %v, want a refusal", err)
	}
	if f.pings() != 0 {
		t.Errorf("%d plain-HTTP requests reached the server for a private address", f.pings())
	}
	// Listed as insecure by the engine, the same name may use HTTP.
	var info Info
	info.RegistryConfig.IndexConfigs = map[string]struct {
		Name   string
		Secure bool
	}{"example.com": {Name: "example.com", Secure: false}}
	f.realm = "http://example.com/token"
	got, err := digestOf(t, newReg(t, RegistryConfig{DialContext: routeTo(f.host()), Proxy: noProxy, Engine: info}), "example.com/app:1")
	if err != nil || got != dgA {
		t.Fatalf("insecure registry: Digest = %q, %v", got, err)
	}
}

func TestInsecurePolicy(t *testing.T) {
	var info Info
	info.RegistryConfig.InsecureRegistryCIDRs = []string{"10.0.0.0/8", "bogus"}
	info.RegistryConfig.IndexConfigs = map[string]struct {
		Name   string
		Secure bool
	}{
		"reg.lan:5000": {Name: "reg.lan:5000", Secure: false},
		"docker.io":    {Name: "docker.io", Secure: true},
	}
	p := newInsecurePolicy(info)
	for host, want := range map[string]bool{
		"reg.lan:5000": true, "reg.lan": false, "reg.lan:5001": false,
		"10.1.2.3:5000": true, "10.1.2.3": true, "11.0.0.1:5000": false, "10.evil.com": false,
		"localhost": true, "LOCALHOST:5000": true, "127.0.0.5:80": true, "[::1]:5000": true,
		"docker.io": false, "registry-1.docker.io": false, "evil.com": false, "": false,
	} {
		if got := p.allowHTTP(host); got != want {
			t.Errorf("allowHTTP(%q) = %v, want %v", host, got, want)
		}
	}
}
