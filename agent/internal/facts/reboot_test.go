package facts

import (
	"strings"
	"testing"
)

func TestDebianRebootReason(t *testing.T) {
	tests := []struct {
		name, flag, pkgs, want string
	}{
		{"packages listed once each", "*** System restart required ***\n", "linux-base\nlibc6\nlinux-base\n\n", "packages: linux-base, libc6"},
		{"no package list", "*** System restart required ***\n", "", "System restart required"},
		{"empty flag file", "", "", "/run/reboot-required exists"},
	}
	for _, tt := range tests {
		if got := debianRebootReason([]byte(tt.flag), []byte(tt.pkgs)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRebootReasonFitsTheCRD(t *testing.T) {
	var pkgs []string
	for range 100 {
		pkgs = append(pkgs, "linux-modules-extra-6.8.0-47-generic")
	}
	for i := range pkgs {
		pkgs[i] += strings.Repeat("x", i%3) // distinct names
		pkgs[i] = pkgs[i] + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	got := debianRebootReason(nil, []byte(strings.Join(pkgs, "\n")))
	if len(got) > 256 || !strings.HasPrefix(got, "packages: linux-modules") || !strings.Contains(got, " more") {
		t.Errorf("reason %q (%d bytes)", got, len(got))
	}
}

func TestNeedsRestartingReason(t *testing.T) {
	out := "Core libraries or services have been updated since boot-up:\n  * kernel\n  * dbus-daemon\n\nReboot is required to fully utilize these updates.\n"
	if got := needsRestartingReason([]byte(out)); got != "updated since boot: kernel, dbus-daemon" {
		t.Errorf("got %q", got)
	}
}
