package facts

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBootTimeOverride(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot")
	t.Setenv(BootTimeFileEnv, path)
	if _, ok, err := bootTimeOverride(); ok || err != nil {
		t.Errorf("no file yet: ok %v err %v, want the real boot time to stand", ok, err)
	}
	if err := os.WriteFile(path, []byte("2026-12-06T23:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, ok, err := bootTimeOverride()
	if !ok || err != nil || !got.Equal(time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("got %v ok %v err %v", got, ok, err)
	}
	if err := os.WriteFile(path, []byte("yesterday"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bootTimeOverride(); err == nil {
		t.Error("a bad time was accepted")
	}
}
