package dnf

import "testing"

func TestRPMVerCmp(t *testing.T) {
	// Cases from rpm's own rpmvercmp test suite.
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "2.0", -1},
		{"2.0.1", "2.0.1", 0},
		{"2.0", "2.0.1", -1},
		{"2.0.1a", "2.0.1", 1},
		{"5.5p1", "5.5p10", -1},
		{"10xyz", "10.1xyz", -1},
		{"xyz10", "xyz10.1", -1},
		{"xyz.4", "8", -1},
		{"1b.fc17", "1.fc17", -1},
		{"1.0a", "1.0", 1},
		{"2_0", "2_0", 0},
		{"2.0", "2_0", 0},
		{"a", "a", 0},
		{"a+", "a_", 0},
		{"+", "_", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0~rc1~git123", "1.0~rc1", -1},
		{"1.0^", "1.0", 1},
		{"1.0^git1", "1.0^git2", -1},
		{"1.0^git1", "1.01", -1},
		{"1.0^20160101", "1.0.1", -1},
		{"1.0~rc1^git1", "1.0~rc1", 1},
		{"1.0^git1~pre", "1.0^git1", -1},
		{"427.16.1.el9_4", "427.13.1.el9_4", 1},
		{"362.24.1.el9_3", "362.8.1.el9_3", 1},
		{"010", "10", 0},
	}
	for _, tt := range tests {
		if got := rpmvercmp(tt.a, tt.b); got != tt.want {
			t.Errorf("rpmvercmp(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := rpmvercmp(tt.b, tt.a); got != -tt.want {
			t.Errorf("rpmvercmp(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestCompareEVR(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1:1.0-1", "2.0-1", 1},
		{"0:2.0-1", "2.0-1", 0},
		{"2.0-1.el9", "2.0-2.el9", -1},
		{"5.14.0-427.13.1.el9_4", "5.14.0-362.24.1.el9_3", 1},
	}
	for _, tt := range tests {
		if got := compareEVR(tt.a, tt.b); got != tt.want {
			t.Errorf("compareEVR(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseNEVRA(t *testing.T) {
	tests := []struct {
		in              string
		name, evr, arch string
		ok              bool
	}{
		{"openssl-1:3.0.7-27.el9.x86_64", "openssl", "1:3.0.7-27.el9", "x86_64", true},
		{"python3-urllib3-1.26.20-1.fc41.noarch", "python3-urllib3", "1.26.20-1.fc41", "noarch", true},
		{"glibc-2.34-100.el9_4.2.i686", "glibc", "2.34-100.el9_4.2", "i686", true},
		{"NetworkManager-libnm-1:1.46.0-4.el9_4.x86_64", "NetworkManager-libnm", "1:1.46.0-4.el9_4", "x86_64", true},
		{"RHSA-2024:1234", "", "", "", false},
		{"Important/Sec.", "", "", "", false},
		{"2024-12-11", "", "", "", false},
		{"foo-1.0.x86_64", "", "", "", false},
		{"-1.0-1.x86_64", "", "", "", false},
		{"foo-x:1.0-1.x86_64", "", "", "", false},
	}
	for _, tt := range tests {
		name, evr, arch, ok := parseNEVRA(tt.in)
		if name != tt.name || evr != tt.evr || arch != tt.arch || ok != tt.ok {
			t.Errorf("parseNEVRA(%q) = %q %q %q %v, want %q %q %q %v", tt.in, name, evr, arch, ok, tt.name, tt.evr, tt.arch, tt.ok)
		}
	}
}

func TestSplitNA(t *testing.T) {
	for in, want := range map[string]bool{
		"bash.x86_64":              true,
		"python3.11-pip.noarch":    true,
		"Repositories":             false,
		"loaded.":                  false,
		".x86_64":                  false,
		"Security:":                false,
		"check:":                   false,
		"grub2-tools.X86":          false,
		"@rhel-9-baseos.something": true,
	} {
		if _, _, ok := splitNA(in); ok != want {
			t.Errorf("splitNA(%q) ok = %v, want %v", in, ok, want)
		}
	}
}
