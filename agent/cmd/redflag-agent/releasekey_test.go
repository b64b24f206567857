package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegisterRefusesBadReleaseKey: a malformed --release-key fails before
// the gateway is contacted (the server here does not exist) and writes no
// config, so a typo costs no seat.
func TestRegisterRefusesBadReleaseKey(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.json")
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"register",
		"--config", cfg, "--state-dir", filepath.Join(dir, "state"),
		"--server", "https://gateway.invalid:9443", "--token", "abcdef.0123456789",
		"--release-key", "not-base64!"}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "--release-key") {
		t.Fatalf("exit %d, stderr %q; want 1 and a message naming --release-key", code, stderr.String())
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Errorf("config written after a refused key: %v", err)
	}
}
