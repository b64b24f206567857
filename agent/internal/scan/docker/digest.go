package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// manifestAccept lists every manifest type a tag may point to, indexes
// first, so the registry answers with the digest the engine recorded
// when it pulled the tag (an index's for multi-platform images).
var manifestAccept = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// Digest returns the digest of the manifest ref's tag points to now. It
// asks with HEAD, which Docker Hub does not count against pull limits,
// and falls back to GET (hashing the body when no Docker-Content-Digest
// is sent) for registries whose HEAD gives no digest.
func (r *Registry) Digest(ctx context.Context, ref Reference) (string, error) {
	target := ref.Tag
	if target == "" {
		target = ref.Digest
	}
	path := "/v2/" + ref.Path + "/manifests/" + target
	resp, err := r.do(ctx, http.MethodHead, ref, path)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if d := resp.Header.Get("Docker-Content-Digest"); checkDigest(d) == nil {
			return d, nil
		}
	} else if resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusBadRequest {
		// 405 and 400 mean HEAD itself is unsupported: try GET.
		return "", statusError(ref, resp)
	}

	resp, err = r.do(ctx, http.MethodGet, ref, path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", statusError(ref, resp)
	}
	body, err := readCapped(resp.Body, maxManifestBody)
	if err != nil {
		return "", fmt.Errorf("registry %s: manifest %s: %w", ref.APIHost(), ref.Familiar(), err)
	}
	if d := resp.Header.Get("Docker-Content-Digest"); checkDigest(d) == nil {
		return d, nil
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// do sends one manifest request for ref with the authorization cached for
// its repository and, on a 401, answers the challenge and retries once.
func (r *Registry) do(ctx context.Context, method string, ref Reference, path string) (*http.Response, error) {
	host := ref.APIHost()
	key := host + "/" + ref.Path
	r.mu.Lock()
	authz := r.auth[key]
	r.mu.Unlock()
	resp, err := r.send(ctx, method, host, path, authz, manifestAccept)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	header := strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
	resp.Body.Close()
	if header == "" {
		return nil, fmt.Errorf("%w: %s answered 401 without a challenge", ErrUnauthorized, host)
	}
	authz, err = r.authorize(ctx, ref, header)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.auth[key] = authz
	r.mu.Unlock()
	return r.send(ctx, method, host, path, authz, manifestAccept)
}

// statusError explains a manifest answer other than 200. HEAD answers
// have no body, so only GET answers add the registry's own words.
func statusError(ref Reference, resp *http.Response) error {
	what := fmt.Sprintf("registry %s: manifest %s: %s", ref.APIHost(), ref.Familiar(), resp.Status)
	if resp.Request == nil || resp.Request.Method != http.MethodHead {
		if s := snippet(resp.Body); s != "" {
			what += ": " + s
		}
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrManifestUnknown, what)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s", ErrUnauthorized, what)
	case http.StatusTooManyRequests:
		return fmt.Errorf("%s (rate limited)", what)
	default:
		return fmt.Errorf("%s", what)
	}
}
