package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// authorize answers a 401's challenges for ref: a Bearer token from the
// challenge's realm (with the login, if any, else anonymously), or the
// login itself for a Basic challenge. It returns the Authorization value.
func (r *Registry) authorize(ctx context.Context, ref Reference, header string) (string, error) {
	host := ref.APIHost()
	challenges, err := ParseChallenges(header)
	if err != nil {
		return "", fmt.Errorf("registry %s: %w", host, err)
	}
	cred, hasCred := r.creds[ref.Domain]
	var basic bool
	for _, c := range challenges {
		if strings.EqualFold(c.Scheme, "Bearer") {
			tok, err := r.token(ctx, ref, c, cred, hasCred)
			if err != nil {
				return "", err
			}
			return "Bearer " + tok, nil
		}
		basic = basic || strings.EqualFold(c.Scheme, "Basic")
	}
	switch {
	case basic && hasCred:
		return basicAuth(cred), nil
	case basic:
		return "", fmt.Errorf("%w: %s asks for a login and the docker config has none", ErrUnauthorized, host)
	default:
		return "", fmt.Errorf("%w: %s: no supported challenge in %q", ErrUnauthorized, host, header)
	}
}

// token fetches a pull token from the Bearer challenge's realm.
func (r *Registry) token(ctx context.Context, ref Reference, c Challenge, cred Credential, hasCred bool) (string, error) {
	host := ref.APIHost()
	realm, err := url.Parse(c.Params["realm"])
	if err != nil || realm.Host == "" {
		return "", fmt.Errorf("registry %s: bad token realm %q", host, c.Params["realm"])
	}
	// A login goes in clear only where the registry itself may be
	// spoken to in clear.
	if realm.Scheme != "https" && !(realm.Scheme == "http" && r.policy.allowHTTP(realm.Host)) {
		return "", fmt.Errorf("registry %s: refusing token realm %q: not HTTPS", host, realm.Redacted())
	}
	q := realm.Query()
	if s := c.Params["service"]; s != "" {
		q.Set("service", s)
	}
	scope := c.Params["scope"]
	if scope == "" {
		scope = "repository:" + ref.Path + ":pull"
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", fmt.Errorf("registry %s: token request: %w", host, err)
	}
	req.Header.Set("User-Agent", userAgent)
	if hasCred {
		req.Header.Set("Authorization", basicAuth(cred))
	}
	resp, err := r.clientFor(realm.Scheme, realm.Host).Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %s: token from %s: %w", ErrUnreachable, host, realm.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("registry %s: token from %s: %s: %s", host, realm.Host, resp.Status, snippet(resp.Body))
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		return "", err
	}
	b, err := readCapped(resp.Body, maxTokenBody)
	if err != nil {
		return "", fmt.Errorf("registry %s: token from %s: %w", host, realm.Host, err)
	}
	var t struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return "", fmt.Errorf("registry %s: token from %s: decoding: %w", host, realm.Host, err)
	}
	tok := t.Token
	if tok == "" {
		tok = t.AccessToken
	}
	// The token goes into a header: refuse one that could break it.
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("registry %s: token from %s: empty or malformed token", host, realm.Host)
	}
	return tok, nil
}

func basicAuth(c Credential) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password))
}
