package config

import (
	"errors"
	"fmt"
	"net/url"
)

// validateServerURL allows https only: the protocol pins a CA, and a plain
// http URL would send signed requests and scan results in the clear.
// Messages show the URL with any password redacted.
func validateServerURL(s string) error {
	u, err := parseURL(s)
	if err != nil {
		return err
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%q must start with https://", shown)
	case u.Hostname() == "":
		return fmt.Errorf("%q has no host", shown)
	case u.User != nil:
		// Credentials in the URL would end up in logs and events.
		return fmt.Errorf("%q must not contain a user name or password", shown)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q must not have a query or fragment", shown)
	}
	return nil
}

var proxySchemes = map[string]bool{"http": true, "https": true, "socks5": true, "socks5h": true}

func parseProxy(s string) (*url.URL, error) {
	u, err := parseURL(s)
	if err != nil {
		return nil, err
	}
	if !proxySchemes[u.Scheme] {
		return nil, fmt.Errorf("scheme %q is not http, https, socks5 or socks5h", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q has no host", u.Redacted())
	}
	return u, nil
}

// parseURL drops the URL from url.Parse's error text, because a proxy URL
// may carry a password and config errors are logged.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("is not a valid URL: %w", err)
	}
	return u, nil
}
