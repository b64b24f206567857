package selfupdate

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// fixture is a host running v1.0.0 of a fake agent binary and a gateway
// (TLS, its CA pinned by the client) serving a signed release store plus
// misbehaving paths under /bad/.
type fixture struct {
	t        *testing.T
	pub      ed25519.PublicKey
	priv     ed25519.PrivateKey
	store    string
	srv      *httptest.Server
	mux      *http.ServeMux
	client   *http.Client
	exe      string
	stateDir string
	oldBin   []byte
	// requests counts requests the gateway answered.
	requests atomic.Int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	appliedHere.Store(false) // each test is a fresh agent process
	t.Cleanup(func() { appliedHere.Store(false) })
	f := &fixture{t: t, store: t.TempDir(), mux: http.NewServeMux()}
	var err error
	if f.pub, f.priv, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	f.mux.Handle(protocol.ReleasesPrefix, release.Handler(f.store))
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	hc, err := hostclient.New(f.srv.URL, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	f.client = hc.HTTP

	binDir := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.exe = filepath.Join(binDir, "redflag-agent")
	f.oldBin = []byte("#!/bin/sh\necho agent v1.0.0\n")
	if err := os.WriteFile(f.exe, f.oldBin, 0o755); err != nil {
		t.Fatal(err)
	}
	f.stateDir = filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return f
}

// publish signs content as version for goos/arch into the store.
func (f *fixture) publish(version, goos, arch string, content []byte) release.Manifest {
	f.t.Helper()
	bin := filepath.Join(f.t.TempDir(), "new")
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		f.t.Fatal(err)
	}
	m, err := release.Publish(release.PublishOptions{Dir: f.store, Binary: bin, Version: version, OS: goos, Arch: arch, Key: f.priv, Replace: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) options() Options {
	return Options{
		Client: f.client, BaseURL: f.srv.URL, ReleaseKey: f.pub, StateDir: f.stateDir, Executable: f.exe,
		RunningVersion: "v1.0.0", OS: "linux", Arch: "amd64", DownloadTimeout: 5 * time.Second,
	}
}

func work(id, version string) protocol.WorkRequest {
	return protocol.WorkRequest{ID: id, AgentUpdate: "fleet-upgrade", AgentVersion: &protocol.ReleaseRef{
		Version:      version,
		ManifestPath: protocol.ReleasePath(version, "linux", "amd64", protocol.ReleaseManifestFile),
		BinaryPath:   protocol.ReleasePath(version, "linux", "amd64", protocol.ReleaseBinaryFile),
	}}
}

// assertUntouched checks what a host operator would: the agent binary is
// the old one, nothing was staged as .next or kept as .previous, no update
// is recorded and no download was left beside the binary.
func (f *fixture) assertUntouched() {
	f.t.Helper()
	if got, err := os.ReadFile(f.exe); err != nil || !bytes.Equal(got, f.oldBin) {
		f.t.Errorf("the running binary changed: %q, %v", got, err)
	}
	if _, err := os.Stat(PreviousPath(f.exe)); err == nil {
		f.t.Error("a .previous binary was kept although nothing was swapped")
	}
	if rec, err := ReadRecord(f.stateDir); rec != nil || err != nil {
		f.t.Errorf("a pending-update record was left: %+v, %v", rec, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(f.exe))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		f.t.Errorf("the binary's directory holds %v, want only redflag-agent", names)
	}
}

func (f *fixture) record() *Record {
	f.t.Helper()
	rec, err := ReadRecord(f.stateDir)
	if err != nil || rec == nil {
		f.t.Fatalf("no update record: %v", err)
	}
	return rec
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
