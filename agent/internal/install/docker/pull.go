package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/redflag-io/redflag/agent/internal/scan"
	scandocker "github.com/redflag-io/redflag/agent/internal/scan/docker"
)

// pull has the engine pull ref's tag, with the registry login the
// keychain gives for it (from the docker config or its credential
// helper), as the docker CLI would send it. The engine reports a failed
// pull inside its 200 progress stream, so the stream is read to its end
// (bounded) and its error messages surface.
func (e *engine) pull(ctx context.Context, ref scandocker.Reference, kc authn.Keychain) error {
	header := http.Header{}
	auth, err := registryAuth(kc, ref)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
	}
	if auth != "" {
		header.Set("X-Registry-Auth", auth)
	}
	q := url.Values{"fromImage": {ref.Name()}, "tag": {ref.Tag}}
	resp, err := e.send(ctx, "POST", "/images/create", q, nil, header)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
	}
	defer resp.Body.Close()
	if err := readPullStream(resp.Body); err != nil {
		return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
	}
	return nil
}

// registryAuth is the X-Registry-Auth value for ref's registry, or ""
// when the keychain has no login for it.
func registryAuth(kc authn.Keychain, ref scandocker.Reference) (string, error) {
	repo, err := name.NewRepository(ref.Name())
	if err != nil {
		return "", fmt.Errorf("registry login: %w", err)
	}
	a, err := kc.Resolve(repo)
	if err != nil {
		return "", fmt.Errorf("registry login: %w", err)
	}
	c, err := a.Authorization()
	if err != nil {
		return "", fmt.Errorf("registry login: %w", err)
	}
	if *c == (authn.AuthConfig{}) {
		return "", nil
	}
	b, err := json.Marshal(map[string]string{
		"username": c.Username, "password": c.Password, "identitytoken": c.IdentityToken,
		"registrytoken": c.RegistryToken, "serveraddress": ref.Domain,
	})
	if err != nil {
		return "", fmt.Errorf("registry login: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// readPullStream reads the engine's JSON progress messages and returns
// the first error one of them carries.
func readPullStream(r io.Reader) error {
	dec := json.NewDecoder(io.LimitReader(r, maxPullStream))
	for {
		var m struct {
			Error       string
			ErrorDetail *struct{ Message string }
		}
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the pull's progress: %w", err)
		}
		if m.Error != "" {
			return errors.New(scan.Clean(m.Error, 300))
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(scan.Clean(m.ErrorDetail.Message, 300))
		}
	}
}
