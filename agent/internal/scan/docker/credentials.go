package docker

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Credential is a user name and password (or token) for basic auth.
type Credential struct {
	Username string
	Password string
}

// Credentials maps a registry domain, as references write it
// ("docker.io", "ghcr.io", "127.0.0.1:5000"), to its login.
type Credentials map[string]Credential

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

// LoadCredentials reads the `auths` of a docker config.json. A missing
// file means no logins and no error. Entries kept by a credential helper
// (credsStore, credHelpers) carry no secret in the file and are skipped:
// running helper programs is not the scanner's job.
func LoadCredentials(path string) (Credentials, error) {
	if path == "" {
		return Credentials{}, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Credentials{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	defer f.Close()
	b, err := readCapped(f, maxConfigFile)
	if err != nil {
		return nil, fmt.Errorf("docker config %s: %w", path, err)
	}
	return ParseCredentials(b)
}

// ParseCredentials reads the `auths` object of a docker config.json.
func ParseCredentials(b []byte) (Credentials, error) {
	var cfg struct {
		Auths map[string]struct {
			Auth     string `json:"auth"`
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	out := Credentials{}
	for key, a := range cfg.Auths {
		c := Credential{Username: a.Username, Password: a.Password}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("docker config: auth for %q is not base64: %w", key, err)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("docker config: auth for %q is not user:password", key)
			}
			c = Credential{Username: user, Password: pass}
		}
		if c.Username == "" && c.Password == "" {
			continue
		}
		out[credentialKey(key)] = c
	}
	return out, nil
}

// credentialKey normalizes a config.json key, which may be a bare host or
// a URL ("https://index.docker.io/v1/"), to a reference domain.
func credentialKey(key string) string {
	k := key
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
	}
	if i := strings.IndexByte(k, '/'); i >= 0 {
		k = k[:i]
	}
	switch k {
	case hubLegacy, hubAPIHost:
		return hubDomain
	}
	return k
}
