package installscript

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/packaging"
)

func testKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pub)
}

func testCA(t *testing.T) []byte {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func TestRenderFillsEveryValue(t *testing.T) {
	ca, key := testCA(t), testKey(t)
	out, err := Render(Options{GatewayURL: "https://gw.example.com:9443/", CAPEM: ca, ReleasePublicKey: key})
	if err != nil {
		t.Fatal(err)
	}
	script := string(out)
	for _, want := range []string{
		"\nRENDERED_GATEWAY_URL='https://gw.example.com:9443'\n", // trailing slash dropped
		"\nRENDERED_RELEASE_KEY='" + key + "'\n",
		"\nRENDERED_CA_PEM='" + string(ca) + "'\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("rendered script lacks %q", want)
		}
	}
	// The unit holds apostrophes in its comments: it must arrive intact.
	if !strings.Contains(script, "\nRENDERED_UNIT="+shellQuote(packaging.SystemdUnit)+"\n") {
		t.Error("rendered script does not carry the systemd unit")
	}
	for _, line := range []string{lineGatewayURL, lineReleaseKey, lineCAPEM, lineUnit} {
		if strings.Contains(script, "\n"+line+"\n") {
			t.Errorf("placeholder %q left in the rendered script", line)
		}
	}
	for _, sh := range shells(t) {
		if out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, out)
		}
	}
}

func TestRenderOptionalValues(t *testing.T) {
	out, err := Render(Options{GatewayURL: "https://gw.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nRENDERED_RELEASE_KEY=''\n", "\nRENDERED_CA_PEM=''\n"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("rendered script lacks %q", want)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	ca, key := testCA(t), testKey(t)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secret")})
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no URL", Options{CAPEM: ca}, "not set"},
		{"http", Options{GatewayURL: "http://gw.example.com"}, "not https"},
		{"no host", Options{GatewayURL: "https:///path"}, "no host"},
		{"query", Options{GatewayURL: "https://gw.example.com/?x=1"}, "no user, query or fragment"},
		{"user", Options{GatewayURL: "https://me@gw.example.com"}, "no user, query or fragment"},
		{"private key in the CA", Options{GatewayURL: "https://gw", CAPEM: append(append([]byte{}, ca...), keyPEM...)}, `"PRIVATE KEY" block`},
		{"not PEM", Options{GatewayURL: "https://gw", CAPEM: []byte("hello")}, "no PEM certificate"},
		{"garbage after the CA", Options{GatewayURL: "https://gw", CAPEM: append(append([]byte{}, ca...), "junk"...)}, "data after"},
		{"bad certificate", Options{GatewayURL: "https://gw", CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")})}, "CA bundle"},
		{"key not base64", Options{GatewayURL: "https://gw", ReleasePublicKey: "%%%"}, "not standard base64"},
		{"key too short", Options{GatewayURL: "https://gw", ReleasePublicKey: base64.StdEncoding.EncodeToString([]byte("short"))}, "want 32"},
		{"key unpadded", Options{GatewayURL: "https://gw", ReleasePublicKey: strings.TrimRight(key, "=")}, "not standard base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestRenderCABundle: every certificate of a chain is kept, PEM headers
// are not.
func TestRenderCABundle(t *testing.T) {
	a, b := testCA(t), testCA(t)
	block, _ := pem.Decode(a)
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Comment": "x'y"}, Bytes: block.Bytes})
	got, err := certificates(append(withHeaders, b...))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(a)+string(b) {
		t.Errorf("bundle re-encoded as\n%s\nwant\n%s%s", got, a, b)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatal(err)
	}
}

// TestShellQuote runs the quoted words through a real shell.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", "'", "''", `a\b"c$d` + "`e`", "two\nlines", "$(echo no)"} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != s {
			t.Errorf("shell read %q back as %q", s, out)
		}
	}
}

func TestHandler(t *testing.T) {
	h := Handler(Options{GatewayURL: "https://gw.example.com:9443", CAPEM: testCA(t), ReleasePublicKey: testKey(t)})

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	for k, v := range map[string]string{
		"Content-Type":           "text/x-shellscript; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("GET %s = %q, want %q", k, got, v)
		}
	}
	body := rec.Body.Bytes()
	if !bytes.HasPrefix(body, []byte("#!/bin/sh\n")) || !bytes.Contains(body, []byte("RENDERED_GATEWAY_URL='https://gw.example.com:9443'")) {
		t.Errorf("GET body is not the rendered script:\n%.200s", body)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, Path, nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d body bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, strings.NewReader("x")))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}

	rec = httptest.NewRecorder()
	Handler(Options{GatewayURL: "http://plain"}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "not https") {
		t.Errorf("misconfigured: %d %q", rec.Code, rec.Body)
	}
}

// TestHandlerWithoutAPublicURL: the script names the address the host
// fetched it from, and a Host that could change the URL's meaning is
// refused.
func TestHandlerWithoutAPublicURL(t *testing.T) {
	h := Handler(Options{CAPEM: testCA(t), ReleasePublicKey: testKey(t)})
	for host, want := range map[string]string{
		"10.0.0.7:30443":            "RENDERED_GATEWAY_URL='https://10.0.0.7:30443'",
		"redflag.example.com":       "RENDERED_GATEWAY_URL='https://redflag.example.com'",
		"[fd00::1]:9443":            "RENDERED_GATEWAY_URL='https://[fd00::1]:9443'",
		"gw.example.com/evil":       "",
		"gw.example.com?x=1":        "",
		"user@gw.example.com":       "",
		"gw.example.com'$(reboot)'": "",
		"":                          "",
		"gw.example.com:9443#frag":  "",
		"gw.example.com\\x.example": "",
	} {
		req := httptest.NewRequest(http.MethodGet, Path, nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case want == "" && rec.Code != http.StatusBadRequest:
			t.Errorf("Host %q: %d, want 400", host, rec.Code)
		case want != "" && (rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want)):
			t.Errorf("Host %q: %d, want 200 with %s", host, rec.Code, want)
		}
	}
}

// TestUnrenderedScriptRefuses: the checked-in file cannot install from
// nowhere.
func TestUnrenderedScriptRefuses(t *testing.T) {
	cmd := exec.Command("sh", "-s", "--", "--token", "x")
	cmd.Stdin = strings.NewReader(packaging.InstallScript)
	cmd.Env = append(os.Environ(), "REDFLAG_ROOT="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unrendered template") {
		t.Fatalf("err %v, output %q", err, out)
	}
}

// TestShellcheck lints the script as checked in and as served, when
// shellcheck is installed (Debian: apt-get install shellcheck).
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck is not installed: run make test-deps")
	}
	rendered, err := Render(Options{GatewayURL: "https://gw.example.com:9443", CAPEM: testCA(t), ReleasePublicKey: testKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"packaging/install.sh": packaging.InstallScript, "rendered install.sh": string(rendered)} {
		cmd := exec.Command(sc, "--shell=sh", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", name, err, out)
		}
	}
	// The packages' maintainer scripts, read from the checkout.
	scripts, err := os.ReadDir("../../packaging/scripts")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		out, err := exec.Command(sc, "--shell=sh", "../../packaging/scripts/"+s.Name()).CombinedOutput()
		if err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s.Name(), err, out)
		}
	}
}

// shells are the shells the script is run with: bash, which the tests
// require, and dash, which `curl | sh` gets on Debian and Ubuntu.
func shells(t *testing.T) []string {
	t.Helper()
	var found []string
	for _, name := range []string{"bash", "dash"} {
		if p, err := exec.LookPath(name); err == nil {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		t.Fatal("neither bash nor dash is installed")
	}
	return found
}
