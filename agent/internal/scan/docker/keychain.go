package docker

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultConfigPath is where the docker CLI keeps logins:
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func DefaultConfigPath() string {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// LoadKeychain reads a docker config.json into a keychain that answers
// as the docker CLI would: from its `auths`, or by running the credential
// helper it names (credsStore, credHelpers: ECR, GCR, ACR and the like).
// A missing file, or an empty path, means anonymous everywhere. It is
// authn.DefaultKeychain's lookup, on a file the caller names and reads
// with a size bound.
func LoadKeychain(path string) (authn.Keychain, error) {
	cf := configfile.New(path)
	if path == "" {
		return configKeychain{cf}, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return configKeychain{cf}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	defer f.Close()
	b, err := readCapped(f, maxConfigFile)
	if err != nil {
		return nil, fmt.Errorf("docker config %s: %w", path, err)
	}
	if err := cf.LoadFromReader(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("docker config %s: %w", path, err)
	}
	return configKeychain{cf}, nil
}

// configKeychain resolves logins from one loaded config.json.
type configKeychain struct{ cf *configfile.ConfigFile }

// Resolve implements authn.Keychain: the login for the repository, else
// for its registry (Docker Hub's under the CLI's legacy key), else none.
func (k configKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		c, err := k.cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("docker config: login for %s: %w", key, err)
		}
		if c.Username != "" || c.Password != "" || c.IdentityToken != "" || c.RegistryToken != "" {
			return authn.FromConfig(authn.AuthConfig{
				Username: c.Username, Password: c.Password, Auth: c.Auth,
				IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}
