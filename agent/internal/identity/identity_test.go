package identity

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != ed25519.PrivateKeySize || a.Equal(b) {
		t.Fatal("keys are not fresh 64-byte Ed25519 keys")
	}
	msg := []byte("register")
	if !ed25519.Verify(a.Public().(ed25519.PublicKey), msg, ed25519.Sign(a, msg)) {
		t.Error("signature does not verify")
	}
}

func TestGenerateKeyReportsBrokenRandomSource(t *testing.T) {
	if _, err := generateKey(iotest.ErrReader(errors.New("no entropy"))); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Errorf("error %v, want the random source's failure", err)
	}
}

func TestReadMachineIDFrom(t *testing.T) {
	td := func(name string) string { return filepath.Join("testdata", name) }
	tests := []struct {
		name    string
		paths   []string
		want    string
		wantErr string
		noID    bool
	}{
		{"first file", []string{td("machine-id"), td("machine-id-bad")}, "0f3e5b8a9c2d4e6f8a1b3c5d7e9f1a2b", "", false},
		{"falls back when missing", []string{td("nope"), td("machine-id")}, "0f3e5b8a9c2d4e6f8a1b3c5d7e9f1a2b", "", false},
		{"falls back when empty", []string{td("machine-id-empty"), td("machine-id")}, "0f3e5b8a9c2d4e6f8a1b3c5d7e9f1a2b", "", false},
		{"falls back when uninitialized", []string{td("machine-id-uninitialized"), td("machine-id")}, "0f3e5b8a9c2d4e6f8a1b3c5d7e9f1a2b", "", false},
		{"all missing or empty", []string{td("nope"), td("machine-id-empty")}, "", "nope (missing), testdata/machine-id-empty (empty)", true},
		{"garbage is not skipped", []string{td("machine-id-bad"), td("machine-id")}, "", "not 1-128", false},
		{"no paths", nil, "", "no machine ID", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadMachineIDFrom(tt.paths...)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), filepath.FromSlash(tt.wantErr)) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrNoMachineID) != tt.noID {
				t.Errorf("errors.Is(ErrNoMachineID) = %v", !tt.noID)
			}
		})
	}
}

func TestReadMachineIDOnThisHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	id, err := ReadMachineID()
	if errors.Is(err, ErrNoMachineID) {
		t.Skip("this host has no machine ID:", err)
	}
	if err != nil || ValidateMachineID(id) != nil {
		t.Fatalf("ReadMachineID() = %q, %v", id, err)
	}
}

func TestHostname(t *testing.T) {
	name, err := Hostname()
	if err != nil || name == "" || strings.TrimSpace(name) != name {
		t.Errorf("Hostname() = %q, %v", name, err)
	}
}
