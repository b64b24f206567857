package scanrun

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"two scanners for one manager", Config{Updates: []scan.Scanner{notInstalled(mApt), notInstalled(mApt)}}, "two scanners"},
		{"unknown manager", Config{Updates: []scan.Scanner{notInstalled("snap")}}, "unknown manager"},
		{"nil scanner", Config{Updates: []scan.Scanner{nil}}, "nil scanner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	if _, err := New(cfg); err != nil {
		t.Fatalf("New(DefaultConfig()): %v", err)
	}
	if len(cfg.Updates) == 0 {
		t.Fatal("no update scanners registered for this platform")
	}
}

func TestParseSubsystems(t *testing.T) {
	tests := []struct {
		in   string
		want []Subsystem
		err  bool
	}{
		{"all", All(), false},
		{"updates", []Subsystem{Updates}, false},
		{" storage ", []Subsystem{Storage}, false},
		{"system", []Subsystem{System}, false},
		{"docker", []Subsystem{Docker}, false},
		{"", nil, true},
		{"Updates", nil, true},
		{"disks", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseSubsystems(tt.in)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("ParseSubsystems(%q) = %v, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrUnknownSubsystem) {
			t.Errorf("ParseSubsystems(%q): error %v does not wrap ErrUnknownSubsystem", tt.in, err)
		}
	}
}

// TestRunAll: every subsystem reports, in order, and docker without a
// lister is Skipped, not failed.
func TestRunAll(t *testing.T) {
	r, _ := newTestRunner(t, Config{Updates: []scan.Scanner{notInstalled(mApt)}})
	rep, err := r.Run(context.Background(), All()...)
	if err != nil {
		t.Fatal(err)
	}
	var got []Subsystem
	for _, res := range rep.Results {
		got = append(got, res.Subsystem)
	}
	if !slices.Equal(got, All()) {
		t.Fatalf("subsystems %v", got)
	}
	if d := rep.Results[3].Status; d.Result != protocol.RunSkipped || !strings.Contains(d.Message, "no docker source") {
		t.Fatalf("docker status %+v", d)
	}
	if _, err := r.Run(context.Background(), "disks"); !errors.Is(err, ErrUnknownSubsystem) {
		t.Fatalf("Run(disks): %v", err)
	}
}
