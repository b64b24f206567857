package docker

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	scandocker "github.com/redflag-io/redflag/agent/internal/scan/docker"
)

// TestRegistryAuth checks the login the engine is handed for a pull: the
// docker config's, in the X-Registry-Auth form the docker CLI sends, and
// none for a registry without one.
func TestRegistryAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	// "dTpw" is base64 of "u:p".
	if err := os.WriteFile(path, []byte(`{"auths":{"reg.example:5000":{"auth":"dTpw"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	kc, err := scandocker.LoadKeychain(path)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := scandocker.ParseReference("reg.example:5000/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := registryAuth(kc, ref)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("X-Registry-Auth %q is not base64url: %v", v, err)
	}
	var got map[string]string
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got["username"] != "u" || got["password"] != "p" || got["serveraddress"] != "reg.example:5000" {
		t.Errorf("X-Registry-Auth = %v", got)
	}

	other, err := scandocker.ParseReference("other.example/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := registryAuth(kc, other); err != nil || v != "" {
		t.Errorf("registry without a login: %q, %v; want no header", v, err)
	}
}
