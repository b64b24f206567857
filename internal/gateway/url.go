package gateway

import (
	"fmt"
	"net/url"
)

// parseHost returns the host name (without port) of a URL.
func parseHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parsing gateway public URL %q: %w", raw, err)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("gateway public URL %q has no host", raw)
	}
	return u.Hostname(), nil
}
