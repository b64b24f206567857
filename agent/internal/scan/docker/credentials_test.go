package docker

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseCredentials(t *testing.T) {
	// "dTpw" is base64 of "u:p"; "YTpiOmM=" of "a:b:c".
	got, err := ParseCredentials([]byte(`{
		"auths": {
			"https://index.docker.io/v1/": {"auth": "dTpw"},
			"ghcr.io": {"username": "gh", "password": "tok"},
			"http://127.0.0.1:5000/v2/": {"auth": "YTpiOmM="},
			"quay.io": {}
		},
		"credsStore": "desktop"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Credentials{
		"docker.io":      {"u", "p"},
		"ghcr.io":        {"gh", "tok"},
		"127.0.0.1:5000": {"a", "b:c"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCredentials = %+v, want %+v", got, want)
	}
	for _, bad := range []string{`{"auths":{"x":{"auth":"!!"}}}`, `{"auths":{"x":{"auth":"bm9jb2xvbg=="}}}`, `[`} {
		if _, err := ParseCredentials([]byte(bad)); err == nil {
			t.Errorf("ParseCredentials(%s): no error", bad)
		}
	}
}

func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	if c, err := LoadCredentials(filepath.Join(dir, "missing.json")); err != nil || len(c) != 0 {
		t.Errorf("missing file: %v, %v", c, err)
	}
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(`{"auths":{"r.io":{"auth":"dTpw"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadCredentials(path); err != nil || c["r.io"] != (Credential{"u", "p"}) {
		t.Errorf("LoadCredentials = %v, %v", c, err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	if p := DefaultConfigPath(); p != path {
		t.Errorf("DefaultConfigPath() = %q with DOCKER_CONFIG set, want %q", p, path)
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
