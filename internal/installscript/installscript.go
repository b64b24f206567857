// Package installscript renders the agent install script that the gateway
// serves at /install.sh: packaging/install.sh with the gateway's public URL,
// its CA and the release public key filled in, and the systemd unit
// embedded, so that one `curl | sh` installs, pins and enrolls an agent.
//
// The script's source is packaging/install.sh (embedded by package
// packaging); this package only fills in four marked lines. Values are
// validated and shell-quoted here, because the script runs as root on every
// host that fetches it.
package installscript

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/redflag-io/redflag/packaging"
)

// Path is where the gateway serves the script.
const Path = "/install.sh"

// Options are what the script needs to know about the gateway that serves
// it.
type Options struct {
	// GatewayURL is the gateway's public https URL, as hosts reach it
	// (https://redflag.example.com:9443). The script downloads releases
	// from it and the agent registers with it.
	GatewayURL string
	// CAPEM is the PEM bundle of CA certificates that sign the gateway's
	// serving certificate. The script pins it for its downloads and writes
	// it to /etc/redflag/ca.crt for the agent. Empty means the gateway's
	// certificate is publicly trusted: the host's system roots are used.
	CAPEM []byte
	// ReleasePublicKey is the Ed25519 key (standard base64 of 32 bytes)
	// that signs agent releases; the agent pins it at registration. Empty
	// means none is pinned (the script warns).
	ReleasePublicKey string
}

// The lines of packaging/install.sh that Render replaces, each exactly once.
const (
	lineGatewayURL = "RENDERED_GATEWAY_URL=''"
	lineReleaseKey = "RENDERED_RELEASE_KEY=''"
	lineCAPEM      = "RENDERED_CA_PEM=''"
	lineUnit       = "RENDERED_UNIT=''"
)

// Render returns the install script for opts. It fails on a URL that is
// not https, a CA bundle that holds anything but certificates (a private
// key pasted by mistake must never be served) and a malformed release key.
func Render(opts Options) ([]byte, error) {
	gateway, err := gatewayURL(opts.GatewayURL)
	if err != nil {
		return nil, err
	}
	ca, err := certificates(opts.CAPEM)
	if err != nil {
		return nil, err
	}
	key, err := releaseKey(opts.ReleasePublicKey)
	if err != nil {
		return nil, err
	}
	script := packaging.InstallScript
	for _, r := range []struct{ line, value string }{
		{lineGatewayURL, gateway},
		{lineReleaseKey, key},
		{lineCAPEM, ca},
		{lineUnit, packaging.SystemdUnit},
	} {
		name, _, _ := strings.Cut(r.line, "=")
		// Whole lines only, so a mention in a comment is never replaced.
		if n := strings.Count(script, "\n"+r.line+"\n"); n != 1 {
			return nil, fmt.Errorf("packaging/install.sh has %d lines %q, want 1: the script and this package disagree", n, r.line)
		}
		script = strings.Replace(script, "\n"+r.line+"\n", "\n"+name+"="+shellQuote(r.value)+"\n", 1)
	}
	return []byte(script), nil
}

// gatewayURL checks that u is an absolute https URL the agent will accept
// and returns it without a trailing slash, the form the agent stores.
func gatewayURL(u string) (string, error) {
	if u == "" {
		return "", errors.New("install script: the gateway's public URL is not set")
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("install script: gateway URL %q: %w", u, err)
	}
	switch {
	case parsed.Scheme != "https":
		return "", fmt.Errorf("install script: gateway URL %q is not https (the agent speaks https only)", u)
	case parsed.Host == "":
		return "", fmt.Errorf("install script: gateway URL %q has no host", u)
	case parsed.User != nil, parsed.RawQuery != "", parsed.Fragment != "":
		return "", fmt.Errorf("install script: gateway URL %q must have no user, query or fragment", u)
	}
	return strings.TrimRight(u, "/"), nil
}

// certificates re-encodes the certificates of a PEM bundle, refusing any
// other block and any trailing garbage; empty stays empty.
func certificates(bundle []byte) (string, error) {
	if len(bytes.TrimSpace(bundle)) == 0 {
		return "", nil
	}
	var out bytes.Buffer
	rest := bundle
	for {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return "", fmt.Errorf("install script: the CA bundle holds a %q block; only certificates may be served", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return "", fmt.Errorf("install script: the CA bundle: %w", err)
		}
		// Headers dropped: nothing but the certificate goes to hosts.
		if err := pem.Encode(&out, &pem.Block{Type: block.Type, Bytes: block.Bytes}); err != nil {
			return "", fmt.Errorf("install script: encoding the CA: %w", err)
		}
		rest = next
	}
	if out.Len() == 0 {
		return "", errors.New("install script: the CA bundle holds no PEM certificate")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return "", errors.New("install script: the CA bundle has data after its last certificate")
	}
	return out.String(), nil
}

// releaseKey checks the key the way the agent's config does (strict
// standard base64 of an Ed25519 public key), so registration cannot fail
// on it after the binary is installed.
func releaseKey(key string) (string, error) {
	if key == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(key)
	if err != nil {
		return "", fmt.Errorf("install script: release public key is not standard base64: %w", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return "", fmt.Errorf("install script: release public key is %d bytes, want %d (Ed25519)", len(raw), ed25519.PublicKeySize)
	}
	return key, nil
}

// shellQuote makes s one single-quoted shell word: inside single quotes
// nothing is special but the quote itself, which is written by closing the
// quotes, adding a backslash-escaped quote and reopening them.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Handler serves the script rendered from opts, to GET and HEAD. When
// opts cannot be rendered it answers 500 with the reason, so a
// misconfigured gateway says why instead of serving a broken script; call
// Render at start-up to find out earlier.
//
// With no GatewayURL the script names the address it was fetched from
// (https:// and the request's Host): whatever name and port reached the
// gateway for the download (a Service, NodePort, load balancer or
// port-forward) reaches it for registration too, so the chart needs no
// public URL to serve a working script. A Host that is not a plain
// host[:port] gets 400.
//
// Responses are never cached (Cache-Control: no-store): the script carries
// the CA and the release key, and a proxy or browser cache must not hand
// out an old one after either is rotated.
func Handler(opts Options) http.Handler {
	fixed, fixedErr := []byte(nil), error(nil)
	if opts.GatewayURL != "" {
		fixed, fixedErr = Render(opts)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		script, err := fixed, fixedErr
		if opts.GatewayURL == "" {
			if !validHost(r.Host) {
				http.Error(w, "install script: the request's Host is not host[:port]; set the gateway's public URL (--gateway-public-url)", http.StatusBadRequest)
				return
			}
			perRequest := opts
			perRequest.GatewayURL = "https://" + r.Host
			script, err = Render(perRequest)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Length", strconv.Itoa(len(script)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(script)
	})
}

// validHost accepts a DNS name, IPv4 address or bracketed IPv6 address,
// with an optional port: nothing that could change the URL's meaning.
func validHost(h string) bool {
	if h == "" || len(h) > 260 {
		return false
	}
	u, err := url.Parse("https://" + h)
	if err != nil || u.Host != h || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}
