package daemon

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/config"
	"github.com/redflag-io/redflag/agent/internal/outbox"
	"github.com/redflag-io/redflag/internal/backoff"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

// skewGateway answers reports as the gateway does for the one rule under
// test: a request whose signed timestamp is more than two minutes from the
// server's clock is refused with 401 StaleTimestamp (the real gateway's
// answer to a real request is checked in test/e2e, TestAgentLocalFaults);
// a report whose event reason is "Malformed" is refused with 400, as the
// gateway refuses a report it can never accept. It records what it applied.
type skewGateway struct {
	mu      sync.Mutex
	applied []string
}

func (g *skewGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, code, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(protocol.Error{Code: code, Message: msg})
	}
	a, err := protocol.ParseRequestAuth(r.Header)
	if err != nil || r.URL.Path != protocol.PathReport {
		refuse(http.StatusUnauthorized, protocol.CodeBadSignature, "unsigned")
		return
	}
	if skew := time.Since(a.Timestamp); skew > 2*time.Minute || -skew > 2*time.Minute {
		refuse(http.StatusUnauthorized, protocol.CodeStaleTimestamp,
			fmt.Sprintf("request timestamp is %s away from the gateway's clock (allowed: 2m0s); check the host's clock", skew.Round(time.Second)))
		return
	}
	body, _ := io.ReadAll(r.Body)
	var rep protocol.Report
	_ = json.Unmarshal(body, &rep)
	if rep.Event != nil && rep.Event.Reason == "Malformed" {
		refuse(http.StatusBadRequest, protocol.CodeBadRequest, "event reason \"Malformed\" is not one an agent may report")
		return
	}
	g.mu.Lock()
	g.applied = append(g.applied, rep.IdempotencyKey)
	g.mu.Unlock()
	_ = json.NewEncoder(w).Encode(protocol.ReportResponse{})
}

// TestStaleTimestampKeepsReportsAndBacksOff: a host whose clock is ten
// minutes off has every request refused with StaleTimestamp. That refusal
// is about the request, not the reports: they stay in the outbox (none is
// dropped or counted as dropped), the daemon backs off with a growing
// ceiling instead of retrying in a tight loop, says why, and once the clock
// is right delivers every report exactly once. A report refused as such
// (400) is still dropped, as before.
func TestStaleTimestampKeepsReportsAndBacksOff(t *testing.T) {
	gw := &skewGateway{}
	srv := httptest.NewTLSServer(gw)
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	client, err := hostclient.New(srv.URL, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	offset := 10 * time.Minute
	client.Now = func() time.Time { return time.Now().Add(offset) }
	_, key, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{
		client: client, outbox: ob, backoff: backoff.New(),
		id:  hostclient.Identity{Agent: "fleet/web-1", MachineID: "0123", Key: key},
		log: slog.New(slog.DiscardHandler),
	}
	for _, reason := range []string{"AgentStarted", "Malformed", "ConfigMigrated"} {
		d.queueEvent(reason, "test", nil)
	}
	stored, err := ob.Pending()
	if err != nil || len(stored) != 3 {
		t.Fatalf("outbox holds %d reports (%v), want 3", len(stored), err)
	}

	for attempt := 1; attempt <= 6; attempt++ {
		err := d.flush(context.Background())
		var refusal *hostclient.Error
		if !errors.As(err, &refusal) || refusal.Code != protocol.CodeStaleTimestamp {
			t.Fatalf("attempt %d: flush = %v, want a StaleTimestamp refusal", attempt, err)
		}
		wait := d.failed(err)
		if wait <= 0 {
			t.Fatalf("attempt %d: wait %s", attempt, wait)
		}
		if left, _ := ob.Pending(); len(left) != 3 {
			t.Fatalf("attempt %d: %d reports left in the outbox, want all 3 kept", attempt, len(left))
		}
	}
	// Six refusals in a row: the next wait is drawn from a 64 s ceiling,
	// not retried at once.
	if c := d.backoff.Ceiling(); c < 64*time.Second {
		t.Errorf("after six refusals the backoff ceiling is %s, want it grown to 64s", c)
	}
	if !strings.Contains(d.state.LastError, "StaleTimestamp") || !strings.Contains(d.state.LastError, "check the host's clock") {
		t.Errorf("last error %q does not say the clock is off", d.state.LastError)
	}
	if ob.Dropped() != 0 || len(gw.applied) != 0 {
		t.Fatalf("dropped %d, applied %v while the clock was off", ob.Dropped(), gw.applied)
	}

	// The clock is put right: every good report is delivered once, the one
	// the gateway refuses as such is dropped, and the outbox is empty.
	offset = 0
	if err := d.flush(context.Background()); err != nil {
		t.Fatalf("flush with the clock right: %v", err)
	}
	want := []string{stored[0].Report.IdempotencyKey, stored[2].Report.IdempotencyKey}
	if fmt.Sprint(gw.applied) != fmt.Sprint(want) {
		t.Errorf("applied %v, want %v (each good report once, in order)", gw.applied, want)
	}
	if left, _ := ob.Pending(); len(left) != 0 {
		t.Errorf("%d reports left after delivery", len(left))
	}
}

// TestUnstorableReportsAreKeptInMemory: when the outbox cannot store a
// report (here every report is over its byte limit, as on a full disk
// every write fails), the report is kept in memory, counted as pending,
// and delivered from there, once, when the gateway can be reached; it is
// not lost because the disk refused it.
func TestUnstorableReportsAreKeptInMemory(t *testing.T) {
	gw := &skewGateway{}
	srv := httptest.NewTLSServer(gw)
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	client, err := hostclient.New(srv.URL, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	down := true
	client.Now = func() time.Time {
		if down {
			return time.Now().Add(time.Hour) // refused, as a gateway away would
		}
		return time.Now()
	}
	_, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	ob, err := outbox.Open(filepath.Join(dir, "outbox"), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{
		client: client, outbox: ob, backoff: backoff.New(), paths: config.Paths{StateDir: dir},
		id:  hostclient.Identity{Agent: "fleet/web-1", MachineID: "0123", Key: key},
		log: slog.New(slog.DiscardHandler),
	}
	d.queueEvent("AgentStarted", "one", nil)
	d.queueEvent("ConfigMigrated", "two", nil)
	if stored, _ := ob.Pending(); len(stored) != 0 {
		t.Fatalf("the outbox stored %d reports over its limit", len(stored))
	}
	if err := d.flush(context.Background()); err == nil {
		t.Fatal("flush succeeded while the gateway refused everything")
	}
	d.saveState()
	if st, err := ReadState(dir); err != nil || st.PendingReports != 2 || st.DroppedReports != 0 {
		t.Fatalf("state %+v (%v): want the 2 reports kept in memory shown as pending", st, err)
	}
	down = false
	if err := d.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(gw.applied) != 2 {
		t.Errorf("applied %v, want the two reports once each", gw.applied)
	}
	d.saveState()
	if st, _ := ReadState(dir); st.PendingReports != 0 {
		t.Errorf("%d pending after delivery", st.PendingReports)
	}
}
