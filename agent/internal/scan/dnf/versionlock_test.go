package dnf

import (
	"slices"
	"strings"
	"testing"
)

func TestParseLockList(t *testing.T) {
	in := strings.Join([]string{
		"# Added lock on Sun Dec  6 23:52:28 2026", // dnf4 comment
		"bash-0:5.1.8-6.el9.*",
		"!kernel-0:5.14.0-1.el9.*", // an exclude, not a hold
		"",
		"Package name: openssl", // dnf5
		"evr = 3.0.7-27.el9",    // a condition, not a name
		"Last metadata expiration check: 0:01:02 ago.", // prose
	}, "\n")
	got, err := ParseLockList(strings.NewReader(in))
	want := []string{"bash-0:5.1.8-6.el9.*", "openssl"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ParseLockList = %q, %v; want %q", got, err, want)
	}
}

func TestParseLockListBounded(t *testing.T) {
	var b strings.Builder
	for range maxLocks + 10 {
		b.WriteString("pkg-1.0-1.*\n")
	}
	got, err := ParseLockList(strings.NewReader(b.String()))
	if err != nil || len(got) != maxLocks {
		t.Fatalf("ParseLockList of %d locks kept %d, %v; want %d", maxLocks+10, len(got), err, maxLocks)
	}
}

func TestLocked(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"bash-0:5.1.8-6.el9.*", "bash", true}, // as dnf4's versionlock add writes
		{"bash-5.1*", "bash", true},
		{"bash", "bash", true},
		{"bash.x86_64", "bash", true},
		{"bash.*", "bash", true},
		{"kernel*", "kernel-core", true},
		{"bash-0:5.1.8-6.el9.*", "bash-completion", false},
		{"bash-completion-1:2.11-5.el9.*", "bash", false},
		{"python3.11", "python3", false},
		{"python3.11-0:3.11.7-1.el9.*", "python3.11", true},
		{"openssl", "openssl-libs", false},
	}
	for _, tt := range tests {
		if got := locked([]string{tt.pattern}, tt.name); got != tt.want {
			t.Errorf("locked(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestHeldUpgrades(t *testing.T) {
	all := []Upgrade{
		{Name: "bash", Arch: "x86_64", EVR: "5.2-1", Repo: "r"},
		{Name: "kernel", Arch: "x86_64", EVR: "5.15-1", Repo: "r"},
		{Name: "curl", Arch: "x86_64", EVR: "8.0-1", Repo: "r"},
	}
	// curl is locked but check-update lists it (an upgrade within its
	// lock), so it is not held; kernel is not locked.
	visible := []Upgrade{{Name: "curl", Arch: "x86_64", EVR: "7.9-1", Repo: "r"}, all[1]}
	got, names := heldUpgrades(all, visible, []string{"bash-0:5.1-1.*", "curl-7.9*"})
	if len(got) != 1 || got[0] != all[0] || len(names) != 1 || !names["bash"] {
		t.Fatalf("heldUpgrades = %+v, %v; want only bash", got, names)
	}
}
