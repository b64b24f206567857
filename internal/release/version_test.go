package release

import (
	"errors"
	"testing"
)

func TestCanonicalVersion(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"1.2.3", "v1.2.3"},
		{"v1.2.3", "v1.2.3"},
		{"v0.10.0-rc.1", "v0.10.0-rc.1"},
		{"2.0.0-beta", "v2.0.0-beta"},
	} {
		got, err := CanonicalVersion(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CanonicalVersion(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "v", "latest", "1.2", "v1", "v1.2.3+build5", "01.2.3", "v1.2.3/../x", "..", "v1.2.3.4", "V1.2.3"} {
		if got, err := CanonicalVersion(bad); !errors.Is(err, ErrInvalidVersion) {
			t.Errorf("CanonicalVersion(%q) = %q, %v; want ErrInvalidVersion", bad, got, err)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"1.2.3", "v1.2.3", 0},
		{"v1.2.3", "v1.10.0", -1},
		{"v2.0.0", "1.99.99", 1},
		{"v1.0.0-rc.1", "v1.0.0", -1},
		{"dev", "v0.0.1", -1}, // a developer build is older than any release
		{"v0.0.0-dev", "v0.1.0", -1},
	} {
		if got := CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
