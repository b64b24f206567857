package daemon

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/config"
)

// TestRegisterBoundsTheIntervalTheServerGives: a checkInInterval outside
// 5s..1h in the registration answer is stored as the nearest bound. Before,
// "2562047h" and "1ns" were stored as given, which the config refuses, so
// enrollment failed after the gateway had taken a seat.
func TestRegisterBoundsTheIntervalTheServerGives(t *testing.T) {
	for _, tc := range []struct{ answer, want string }{
		{"2562047h47m16.854775807s", config.MaxCheckInInterval.String()},
		{"1ns", config.MinCheckInInterval.String()},
		{"2m0s", (2 * time.Minute).String()},
	} {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"namespace":"fleet","agentName":"host-1","workPublicKey":"","checkInInterval":"` + tc.answer + `"}`))
		}))
		dir := t.TempDir()
		caFile := filepath.Join(dir, "ca.crt")
		if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		midFile := filepath.Join(dir, "machine-id")
		if err := os.WriteFile(midFile, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(EnvMachineIDFile, midFile)
		cfg, _, err := Register(context.Background(), RegisterOptions{
			Paths:     config.Paths{ConfigFile: filepath.Join(dir, "agent.json"), StateDir: filepath.Join(dir, "state")},
			ServerURL: srv.URL, Token: "abc123.0123456789abcdefghijklmnopqrstuv", CAFile: caFile,
		})
		srv.Close()
		if err != nil {
			t.Errorf("interval %s: %v", tc.answer, err)
			continue
		}
		if cfg.CheckInInterval != tc.want {
			t.Errorf("interval %s stored as %s, want %s", tc.answer, cfg.CheckInInterval, tc.want)
		}
	}
}
