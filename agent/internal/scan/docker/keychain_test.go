package docker

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// loginFor resolves the keychain's login for repo.
func loginFor(t *testing.T, kc authn.Keychain, repo string) authn.AuthConfig {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kc.Resolve(r)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", repo, err)
	}
	c, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return *c
}

func TestLoadKeychain(t *testing.T) {
	// "dTpw" is base64 of "u:p"; "YTpiOmM=" of "a:b:c".
	kc := keychain(t, `{"auths": {
		"https://index.docker.io/v1/": {"auth": "dTpw"},
		"ghcr.io": {"username": "gh", "password": "tok"},
		"http://127.0.0.1:5000/v2/": {"auth": "YTpiOmM="}
	}}`)
	for repo, want := range map[string]authn.AuthConfig{
		"nginx":                   {Username: "u", Password: "p"},
		"ghcr.io/o/app":           {Username: "gh", Password: "tok"},
		"127.0.0.1:5000/team/app": {Username: "a", Password: "b:c"},
		"quay.io/o/app":           {},
	} {
		if got := loginFor(t, kc, repo); got.Username != want.Username || got.Password != want.Password {
			t.Errorf("%s: login %s/%s, want %s/%s", repo, got.Username, got.Password, want.Username, want.Password)
		}
	}

	dir := t.TempDir()
	if kc, err := LoadKeychain(filepath.Join(dir, "missing.json")); err != nil || loginFor(t, kc, "nginx") != (authn.AuthConfig{}) {
		t.Errorf("missing file: %v, want anonymous", err)
	}
	for _, bad := range []string{`[`, `{"auths":{"x":{"auth":"!!"}}}`} {
		path := filepath.Join(dir, "bad.json")
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadKeychain(path); err == nil {
			t.Errorf("LoadKeychain(%s): no error", bad)
		}
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, maxConfigFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeychain(big); err == nil {
		t.Error("an oversized config.json was read")
	}
	t.Setenv("DOCKER_CONFIG", dir)
	if p := DefaultConfigPath(); p != filepath.Join(dir, "config.json") {
		t.Errorf("DefaultConfigPath() = %q with DOCKER_CONFIG set", p)
	}
}

// TestCredentialHelper runs a real credential helper program, as the
// docker CLI does for ECR, GCR or ACR logins: credHelpers names it per
// registry and it answers on stdout.
func TestCredentialHelper(t *testing.T) {
	f := newFakeRegistry(t, false)
	f.set("app:1", dgA)
	f.basicOnly, f.login = true, "helper-user:helper-secret"
	bin := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread host\n" +
		`printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-secret"}' "$host"` + "\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	kc := keychain(t, `{"credHelpers":{"`+f.host()+`":"fake"}}`)
	if got, err := digestOf(t, newReg(t, RegistryConfig{Keychain: kc}), f.host()+"/app:1"); err != nil || got != dgA {
		t.Fatalf("login from the helper: %q, %v", got, err)
	}
	// A helper that is not installed is an error naming the registry,
	// not a silent anonymous request.
	kc = keychain(t, `{"credHelpers":{"`+f.host()+`":"absent"}}`)
	if _, err := digestOf(t, newReg(t, RegistryConfig{Keychain: kc}), f.host()+"/app:1"); err == nil {
		t.Fatal("a missing credential helper went unnoticed")
	}
}

func TestRepoDigestsNormalizes(t *testing.T) {
	img := Image{RepoDigests: []string{
		"nginx@" + dgA, "other@" + dgB, "docker.io/library/nginx@" + dgB, "garbage", "nginx:1",
	}}
	got := repoDigests(img, mustRef(t, "nginx:latest"))
	if want := []string{dgA, dgB}; !reflect.DeepEqual(got, want) {
		t.Errorf("repoDigests = %v, want %v", got, want)
	}
}
