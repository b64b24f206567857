package release

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/internal/protocol"
)

// rawGet sends path exactly as written (no client-side cleaning of ".."
// or decoding of %2e), as an attacker would.
func rawGet(t *testing.T, srv *httptest.Server, method, path string) (int, http.Header, string) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, method+" "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(newReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func serveStore(t *testing.T) (*httptest.Server, string, string) {
	t.Helper()
	_, priv := newKey(t)
	base := t.TempDir()
	dir := filepath.Join(base, "store")
	publish(t, dir, priv, "v1.0.0", "linux", "amd64", "binary 1.0.0")
	publish(t, dir, priv, "v1.1.0", "linux", "amd64", "binary 1.1.0")
	publish(t, dir, priv, "v1.1.0", "windows", "amd64", "MZ 1.1.0")
	srv := httptest.NewServer(Handler(dir))
	t.Cleanup(srv.Close)
	return srv, dir, base
}

func TestHandlerServesReleaseFiles(t *testing.T) {
	srv, dir, _ := serveStore(t)
	for _, tt := range []struct{ path, want, contentType string }{
		{protocol.ReleasePath("v1.0.0", "linux", "amd64", protocol.ReleaseBinaryFile), "binary 1.0.0", "application/octet-stream"},
		{protocol.ReleasePath("1.0.0", "linux", "amd64", protocol.ReleaseBinaryFile), "binary 1.0.0", "application/octet-stream"},
		{protocol.ReleasePath("latest", "linux", "amd64", protocol.ReleaseBinaryFile), "binary 1.1.0", "application/octet-stream"},
		{protocol.ReleasePath("v1.1.0", "windows", "amd64", protocol.ReleaseBinaryFile), "MZ 1.1.0", "application/octet-stream"},
		{protocol.ReleasePath("v1.1.0", "windows", "amd64", BinaryName("windows")), "MZ 1.1.0", "application/octet-stream"},
		{protocol.ReleasePath("v1.1.0", "linux", "amd64", protocol.ReleaseManifestFile), mustRead(t, filepath.Join(dir, "v1.1.0", "linux-amd64", "manifest.json")), "application/json"},
	} {
		code, h, body := rawGet(t, srv, http.MethodGet, tt.path)
		if code != http.StatusOK || body != tt.want || h.Get("Content-Type") != tt.contentType {
			t.Errorf("GET %s = %d %q (%s); want 200 %q (%s)", tt.path, code, body, h.Get("Content-Type"), tt.want, tt.contentType)
		}
	}
	code, h, body := rawGet(t, srv, http.MethodHead, protocol.ReleasePath("latest", "linux", "amd64", protocol.ReleaseBinaryFile))
	if code != http.StatusOK || body != "" || h.Get("Content-Length") != "12" || h.Get("Cache-Control") != "no-cache" {
		t.Errorf("HEAD latest = %d %q, length %q, cache %q", code, body, h.Get("Content-Length"), h.Get("Cache-Control"))
	}
}

func TestHandlerRefusesEverythingElse(t *testing.T) {
	srv, _, base := serveStore(t)
	// Secrets beside the store, and symlinks inside it that lead to them.
	secretDir := filepath.Join(base, "secret", "linux-amd64")
	if err := os.MkdirAll(secretDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"manifest.json", "redflag-agent"} {
		_ = os.WriteFile(filepath.Join(secretDir, f), []byte("SECRET"), 0o644)
	}
	_ = os.WriteFile(filepath.Join(base, "passwd"), []byte("SECRET"), 0o644)
	symlinks := runtime.GOOS != "windows"
	if symlinks {
		must(t, os.Symlink(filepath.Join(base, "secret"), filepath.Join(base, "store", "v9.9.9")))
		must(t, os.MkdirAll(filepath.Join(base, "store", "v9.9.8", "linux-amd64"), 0o755))
		must(t, os.Symlink(filepath.Join(base, "passwd"), filepath.Join(base, "store", "v9.9.8", "linux-amd64", "redflag-agent")))
		must(t, os.Symlink("../../../passwd", filepath.Join(base, "store", "v9.9.8", "linux-amd64", "manifest.json")))
	}
	paths := []string{
		"/api/v1/releases/",
		"/api/v1/releases/v1.0.0",
		"/api/v1/releases/v1.0.0/linux-amd64",
		"/api/v1/releases/v1.0.0/linux-amd64/",
		"/api/v1/releases/v2.0.0/linux-amd64/redflag-agent",        // no such version
		"/api/v1/releases/v1.0.0/linux-arm64/redflag-agent",        // no such platform
		"/api/v1/releases/latest/darwin-arm64/manifest.json",       // no release at all
		"/api/v1/releases/v1.0.0/linux-amd64/redflag-agent.exe",    // only the two names
		"/api/v1/releases/v1.0.0/linux-amd64/.redflag-agent.tmp-1", // not a temporary file
		"/api/v1/releases/v1.0.0/linux-amd64/../../v1.1.0/linux-amd64/redflag-agent",
		"/api/v1/releases/../../passwd",
		"/api/v1/releases/../secret/linux-amd64/manifest.json",
		"/api/v1/releases/%2e%2e/secret/linux-amd64/manifest.json",
		"/api/v1/releases/%2E%2E/secret/linux-amd64/redflag-agent",
		"/api/v1/releases/v1.0.0%2flinux-amd64%2fredflag-agent",
		"/api/v1/releases/v1.0.0/linux-amd64/redflag-agent%00",
		"/api/v1/releases/v1.0.0/linux-amd64/manifest.json/",
		"/api/v1/releases/v1.0.0/linux/manifest.json",
		"/api/v1/releases/v1.0.0/-amd64/manifest.json",
		"/api/v1/releases/v1.0/linux-amd64/manifest.json",
		"/api/v1/releases/v1.0.0+x/linux-amd64/manifest.json",
		"/api/v1/releases//linux-amd64/manifest.json",
		"/api/v1/register",
		"/v1.0.0/linux-amd64/redflag-agent",
	}
	if symlinks {
		paths = append(paths,
			"/api/v1/releases/v9.9.9/linux-amd64/manifest.json", // symlinked version dir out of the store
			"/api/v1/releases/v9.9.9/linux-amd64/redflag-agent",
			"/api/v1/releases/v9.9.8/linux-amd64/redflag-agent", // symlinked file, absolute target
			"/api/v1/releases/v9.9.8/linux-amd64/manifest.json", // symlinked file, relative target
		)
	}
	for _, p := range paths {
		code, h, body := rawGet(t, srv, http.MethodGet, p)
		var e protocol.Error
		if code != http.StatusNotFound || json.Unmarshal([]byte(body), &e) != nil || e.Code != CodeNotFound || h.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s = %d %q; want a JSON 404", p, code, body)
		}
		if strings.Contains(body, "SECRET") {
			t.Errorf("GET %s leaked a file outside the store", p)
		}
	}
	if symlinks {
		// The escaping v9.9.9 is newer than v1.1.0, but must not be "latest".
		_, _, body := rawGet(t, srv, http.MethodGet, "/api/v1/releases/latest/linux-amd64/redflag-agent")
		if body != "binary 1.1.0" {
			t.Errorf("latest through a symlink out of the store: %q", body)
		}
	}
	code, h, _ := rawGet(t, srv, http.MethodPost, protocol.ReleasePath("v1.0.0", "linux", "amd64", protocol.ReleaseBinaryFile))
	if code != http.StatusMethodNotAllowed || h.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d (Allow %q), want 405", code, h.Get("Allow"))
	}
}

// TestHandlerBehindServeMux mounts the handler the way the gateway does.
func TestHandlerBehindServeMux(t *testing.T) {
	_, priv := newKey(t)
	dir := t.TempDir()
	publish(t, dir, priv, "v1.0.0", "linux", "amd64", "binary")
	mux := http.NewServeMux()
	mux.Handle(protocol.ReleasesPrefix, Handler(dir))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + protocol.ReleasePath("v1.0.0", "linux", "amd64", protocol.ReleaseBinaryFile))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "binary" {
		t.Errorf("through a ServeMux: %d %q", resp.StatusCode, body)
	}
}

func TestHandlerWithoutStore(t *testing.T) {
	srv := httptest.NewServer(Handler(filepath.Join(t.TempDir(), "missing")))
	defer srv.Close()
	if code, _, _ := rawGet(t, srv, http.MethodGet, "/api/v1/releases/latest/linux-amd64/manifest.json"); code != http.StatusNotFound {
		t.Errorf("missing store: %d, want 404", code)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
