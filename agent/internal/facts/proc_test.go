package facts

import (
	"strings"
	"testing"
	"time"
)

func TestParseCPUInfo(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		model     string
		count     int
		wantError bool
	}{
		{"x86", "processor\t: 0\nmodel name\t: Intel(R) Core(TM)  i7\nprocessor\t: 1\nmodel name\t: Intel(R) Core(TM)  i7\n", "Intel(R) Core(TM) i7", 2, false},
		{"armv7", "processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nHardware\t: BCM2835\n", "ARMv7 Processor rev 4 (v7l)", 1, false},
		{"old arm", "Processor\t: ARMv6-compatible processor rev 7 (v6l)\nprocessor\t: 0\n", "ARMv6-compatible processor rev 7 (v6l)", 1, false},
		{"power9", "processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\nprocessor\t: 1\ncpu\t\t: POWER9 (raw), altivec supported\n", "POWER9 (raw), altivec supported", 2, false},
		{"mips", "system type\t\t: MT7621\nprocessor\t\t: 0\ncpu model\t\t: MIPS 1004Kc V2.15\n", "MIPS 1004Kc V2.15", 1, false},
		{"arm64 has no model", "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n", "", 1, false},
		{"empty", "", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model, count, err := parseCPUInfo(strings.NewReader(tt.in))
			if err != nil || model != tt.model || count != tt.count {
				t.Errorf("got %q %d %v, want %q %d", model, count, err, tt.model, tt.count)
			}
		})
	}
}

func TestParseMemTotal(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"MemTotal:        4005432 kB\nMemFree: 1 kB\n", 4005432 * 1024, ""},
		{"MemFree: 1 kB\n", 0, "no MemTotal"},
		{"MemTotal: 12 MB\n", 0, "not \"<n> kB\""},
		{"MemTotal: -5 kB\n", 0, "plausible"},
		{"MemTotal: 99999999999999999999 kB\n", 0, "plausible"},
	}
	for _, tt := range tests {
		got, err := parseMemTotal(strings.NewReader(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %d, %v", tt.in, got, err)
		}
	}
}

func TestParseBootTime(t *testing.T) {
	got, err := parseBootTime(strings.NewReader("cpu 1 2\nbtime 1727000000\n"))
	if err != nil || !got.Equal(time.Unix(1727000000, 0)) || got.Location() != time.UTC {
		t.Errorf("got %v, %v", got, err)
	}
	for _, in := range []string{"cpu 1\n", "btime soon\n", "btime 0\n"} {
		if _, err := parseBootTime(strings.NewReader(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
