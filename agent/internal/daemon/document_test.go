package daemon

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/config"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestCycleActsOnlyOnItsOwnFreshDocuments runs the daemon's check-in cycle
// against a gateway that answers with work documents meant for another
// agent, another machine, already expired, or signed with another key: the
// daemon starts none of the scans and work they carry and records why; a
// document that is its own it accepts.
func TestCycleActsOnlyOnItsOwnFreshDocuments(t *testing.T) {
	workPub, workKey, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	var mu sync.Mutex
	var answer protocol.SignedDocument
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == protocol.PathCheckIn {
			_ = json.NewEncoder(w).Encode(protocol.CheckInResponse{Work: answer})
			return
		}
		_ = json.NewEncoder(w).Encode(protocol.ReportResponse{})
	}))
	defer srv.Close()

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.New()
	cfg.ServerURL, cfg.CAFile, cfg.AgentName, cfg.Namespace, cfg.MachineID = srv.URL, caFile, "host-1", "fleet", "machine-1"
	cfg.WorkPublicKey = base64.StdEncoding.EncodeToString(workPub)
	_, hostKey, _ := ed25519.GenerateKey(nil)
	if err := cfg.SetKey(hostKey); err != nil {
		t.Fatal(err)
	}
	paths := config.Paths{ConfigFile: filepath.Join(dir, "agent.json"), StateDir: filepath.Join(dir, "state")}
	if err := cfg.Save(paths.ConfigFile); err != nil {
		t.Fatal(err)
	}
	d, _, err := newDaemon(paths, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	doc := func(change func(*protocol.WorkDocument)) protocol.WorkDocument {
		wd := protocol.WorkDocument{
			Agent: "fleet/host-1", MachineID: "machine-1", IssuedAt: now, ExpiresAt: now.Add(10 * time.Minute),
			NextCheckIn: protocol.Duration{Duration: time.Minute}, CheckInInterval: protocol.Duration{Duration: time.Minute},
			Scans: []protocol.ScanRequest{{Subsystem: "storage", ID: "storage-1"}},
			Work:  &protocol.WorkRequest{ID: "rollout.0123abcd.r0", AgentUpdate: "rollout", Packages: &protocol.PackageWork{Scope: protocol.ScopeAll}, DryRun: true},
		}
		if change != nil {
			change(&wd)
		}
		return wd
	}
	for name, tc := range map[string]struct {
		doc  protocol.WorkDocument
		key  ed25519.PrivateKey
		want string
	}{
		"for another agent":   {doc(func(wd *protocol.WorkDocument) { wd.Agent = "fleet/host-2" }), workKey, "for another agent"},
		"for another machine": {doc(func(wd *protocol.WorkDocument) { wd.MachineID = "machine-2" }), workKey, "for another agent"},
		"expired":             {doc(func(wd *protocol.WorkDocument) { wd.ExpiresAt = now.Add(-time.Second) }), workKey, "expired"},
		"signed by another":   {doc(nil), otherKey, "signature does not verify"},
	} {
		sd, err := protocol.SignDocument(tc.doc, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		answer = sd
		mu.Unlock()
		wait := d.cycle(context.Background())
		if !strings.Contains(d.state.LastError, tc.want) || d.state.LastCheckIn != nil {
			t.Errorf("%s: last error %q, last check-in %v; want the document refused (%s)", name, d.state.LastError, d.state.LastCheckIn, tc.want)
		}
		d.scans.wait()
		if ran := scansRun(d); len(ran) != 0 || d.works.running != "" {
			t.Fatalf("%s: the daemon acted on the document: scans %v, work %q", name, ran, d.works.running)
		}
		if wait >= time.Minute {
			t.Errorf("%s: next check-in in %s; a refused document is a failure, retried with backoff", name, wait)
		}
	}

	// Its own, fresh document is acted on: its scan runs (its work is left
	// out, as this test runs no installer).
	sd, err := protocol.SignDocument(doc(func(wd *protocol.WorkDocument) { wd.Work = nil }), workKey)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	answer = sd
	mu.Unlock()
	d.cycle(context.Background())
	if d.state.LastError != "" || d.state.LastCheckIn == nil {
		t.Errorf("its own document: last error %q, last check-in %v; want it accepted", d.state.LastError, d.state.LastCheckIn)
	}
	d.scans.wait()
	if ran := scansRun(d); ran["storage"] != "storage-1" {
		t.Errorf("its own document: scans run %v, want storage-1", ran)
	}
}

// scansRun lists the scans running or finished, by subsystem.
func scansRun(d *daemon) map[string]string {
	d.scans.mu.Lock()
	defer d.scans.mu.Unlock()
	ran := map[string]string{}
	for k, v := range d.scans.lastDone {
		ran[k] = v
	}
	for k, v := range d.scans.running {
		ran[k] = v
	}
	return ran
}
