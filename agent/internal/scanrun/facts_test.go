package scanrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/facts"
	"github.com/redflag-io/redflag/internal/protocol"
)

func TestFactsSubsystems(t *testing.T) {
	good := facts.Facts{
		Hostname: "web-1",
		OS:       protocol.OSInfo{Family: "linux", Distribution: "debian", Kernel: "6.1.0"},
		System:   protocol.SystemFacts{CPUCores: 2, MemoryBytes: 4 << 30},
		Storage:  []protocol.MountStatus{{MountPoint: "/", SizeBytes: 100, UsedBytes: 40}},
	}
	noMounts := good
	noMounts.Storage = nil
	statfsErr := fmt.Errorf("storage: %w", errors.New("statfs /srv: permission denied"))
	tests := []struct {
		name          string
		facts         facts.Facts
		err           error
		hang          bool
		storage, sys  protocol.RunResult
		storageMsg    string
		sysMsg        string
		wantAllFailed bool
	}{
		{name: "clean", facts: good, storage: protocol.RunSucceeded, sys: protocol.RunSucceeded},
		{name: "one mount unreadable", facts: good, err: errors.Join(statfsErr),
			storage: protocol.RunSucceeded, storageMsg: "partial: storage: statfs /srv", sys: protocol.RunSucceeded},
		{name: "hostname unreadable", facts: good, err: errors.Join(errors.New("hostname: no such file")),
			storage: protocol.RunSucceeded, sys: protocol.RunSucceeded, sysMsg: "partial: hostname"},
		{name: "no mount readable", facts: noMounts, err: errors.Join(errors.New("kernel release: gone"), statfsErr),
			storage: protocol.RunFailed, storageMsg: "statfs /srv", sys: protocol.RunSucceeded, sysMsg: "partial: kernel release"},
		{name: "nothing readable", facts: facts.Facts{}, err: errors.Join(errors.New("os-release: gone"), statfsErr),
			storage: protocol.RunFailed, sys: protocol.RunFailed, storageMsg: "statfs", sysMsg: "os-release", wantAllFailed: true},
		{name: "timeout", hang: true, storage: protocol.RunTimedOut, sys: protocol.RunTimedOut,
			storageMsg: "no complete result within 30ms", sysMsg: "no complete result", wantAllFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			r, _ := newTestRunner(t, Config{
				FactsTimeout: 30 * time.Millisecond,
				Facts: func(ctx context.Context) (facts.Facts, error) {
					calls.Add(1)
					if tt.hang {
						<-ctx.Done()
						return facts.Facts{}, fmt.Errorf("needs-restarting: %w", ctx.Err())
					}
					return tt.facts, tt.err
				},
			})
			rep, err := r.Run(context.Background(), Storage, System)
			if err != nil {
				t.Fatal(err)
			}
			if calls.Load() != 1 {
				t.Errorf("facts collected %d times for two subsystems", calls.Load())
			}
			st, sys := rep.Results[0], rep.Results[1]
			for _, c := range []struct {
				res  Result
				want protocol.RunResult
				msg  string
			}{{st, tt.storage, tt.storageMsg}, {sys, tt.sys, tt.sysMsg}} {
				o := c.res.Outcomes[0]
				if o.Name != SourceFacts || o.Result != c.want || c.res.Status.Result != c.want {
					t.Errorf("%s: %s / status %s, want %s (%q)", c.res.Subsystem, o.Result, c.res.Status.Result, c.want, o.Message)
				}
				if (c.msg == "") != (o.Message == "") || !strings.Contains(o.Message, c.msg) {
					t.Errorf("%s: message %q, want %q", c.res.Subsystem, o.Message, c.msg)
				}
				if c.res.Hash == "" {
					t.Errorf("%s: no hash", c.res.Subsystem)
				}
			}
			if len(st.Storage) != len(tt.facts.Storage) || sys.OS == nil || *sys.OS != tt.facts.OS || sys.Hostname != tt.facts.Hostname {
				t.Errorf("payload: storage %v, os %v, host %q", st.Storage, sys.OS, sys.Hostname)
			}
			if rep.AllFailed() != tt.wantAllFailed {
				t.Errorf("AllFailed = %v", rep.AllFailed())
			}
		})
	}
}

// TestStorageHashIgnoresSmallGrowth: the storage hash moves when a disk
// fills by a percent, not when a log file grows.
func TestStorageHashIgnoresSmallGrowth(t *testing.T) {
	hash := func(used int64) string {
		f := facts.Facts{Storage: []protocol.MountStatus{{MountPoint: "/", SizeBytes: 100 << 30, UsedBytes: used}}}
		r, _ := newTestRunner(t, Config{Facts: func(context.Context) (facts.Facts, error) { return f, nil }})
		return runOne(t, r, Storage).Hash
	}
	if hash(40<<30) != hash(40<<30+1<<20) {
		t.Error("a MiB more changed the storage hash")
	}
	if hash(40<<30) == hash(42<<30) {
		t.Error("two percent more left the storage hash unchanged")
	}
}
