package scanrun

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

const (
	mApt    = protocol.ManagerApt
	mDnf    = protocol.ManagerDnf
	mWinget = protocol.ManagerWinget
)

type wantOutcome struct {
	present bool
	result  protocol.RunResult
	msg     string // substring of the message; "" wants none
	updates int
}

func TestRunManagers(t *testing.T) {
	tests := []struct {
		name          string
		scanners      []scan.Scanner
		timeouts      map[protocol.PackageManager]time.Duration
		want          map[string]wantOutcome
		wantStatus    protocol.RunResult
		wantTotal     int32
		wantSecurity  int32
		wantByManager map[string]int32
		wantAllFailed bool
	}{{
		name: "all succeed",
		scanners: []scan.Scanner{
			returns(mApt, []protocol.PendingUpdate{upd(mApt, "openssl", true), upd(mApt, "bash", false)}, nil),
			returns(mDnf, []protocol.PendingUpdate{upd(mDnf, "kernel", false)}, nil),
		},
		want: map[string]wantOutcome{
			"apt": {present: true, result: protocol.RunSucceeded, updates: 2},
			"dnf": {present: true, result: protocol.RunSucceeded, updates: 1},
		},
		wantStatus: protocol.RunSucceeded, wantTotal: 3, wantSecurity: 1,
		wantByManager: map[string]int32{"apt": 2, "dnf": 1},
	}, {
		name: "one hangs past its timeout while the others succeed",
		scanners: []scan.Scanner{
			returns(mApt, []protocol.PendingUpdate{upd(mApt, "bash", false)}, nil),
			hangs(mDnf),
			returns(mWinget, []protocol.PendingUpdate{upd(mWinget, "Git.Git", false)}, nil),
		},
		timeouts: map[protocol.PackageManager]time.Duration{mDnf: 50 * time.Millisecond},
		want: map[string]wantOutcome{
			"apt":    {present: true, result: protocol.RunSucceeded, updates: 1},
			"dnf":    {present: true, result: protocol.RunTimedOut, msg: "no result within 50ms"},
			"winget": {present: true, result: protocol.RunSucceeded, updates: 1},
		},
		wantStatus: protocol.RunTimedOut, wantTotal: 2,
		wantByManager: map[string]int32{"apt": 1, "winget": 1},
	}, {
		name: "not installed is absent, not failed",
		scanners: []scan.Scanner{
			returns(mApt, []protocol.PendingUpdate{upd(mApt, "bash", false)}, nil),
			notInstalled(mDnf),
		},
		want: map[string]wantOutcome{
			"apt": {present: true, result: protocol.RunSucceeded, updates: 1},
			"dnf": {present: false, result: protocol.RunSkipped, msg: "not installed"},
		},
		wantStatus: protocol.RunSucceeded, wantTotal: 1,
		wantByManager: map[string]int32{"apt": 1},
	}, {
		name:     "nothing installed",
		scanners: []scan.Scanner{notInstalled(mApt), notInstalled(mDnf)},
		want: map[string]wantOutcome{
			"apt": {present: false, result: protocol.RunSkipped, msg: "not installed"},
			"dnf": {present: false, result: protocol.RunSkipped, msg: "not installed"},
		},
		wantStatus: protocol.RunSkipped,
	}, {
		name:     "every present scanner fails",
		scanners: []scan.Scanner{returns(mApt, nil, errBroken), notInstalled(mDnf)},
		want: map[string]wantOutcome{
			"apt": {present: true, result: protocol.RunFailed, msg: "E: broken"},
			"dnf": {present: false, result: protocol.RunSkipped, msg: "not installed"},
		},
		wantStatus: protocol.RunFailed, wantAllFailed: true,
	}, {
		name: "malformed output keeps what was read",
		scanners: []scan.Scanner{returns(mApt, []protocol.PendingUpdate{upd(mApt, "bash", false)},
			fmt.Errorf("apt scan: %w: 1 unreadable line(s)", scan.ErrMalformed))},
		want: map[string]wantOutcome{
			"apt": {present: true, result: protocol.RunSucceeded, msg: "partial: apt scan: malformed output", updates: 1},
		},
		wantStatus: protocol.RunSucceeded, wantTotal: 1,
		wantByManager: map[string]int32{"apt": 1},
	}, {
		name:     "malformed output with nothing read fails",
		scanners: []scan.Scanner{returns(mApt, nil, fmt.Errorf("apt scan: %w", scan.ErrMalformed))},
		want: map[string]wantOutcome{
			"apt": {present: true, result: protocol.RunFailed, msg: "malformed output"},
		},
		wantStatus: protocol.RunFailed, wantAllFailed: true,
	}, {
		name: "a panicking scanner fails alone",
		scanners: []scan.Scanner{
			returns(mApt, []protocol.PendingUpdate{upd(mApt, "bash", false)}, nil),
			&fakeScanner{manager: mWinget, fn: func(context.Context) ([]protocol.PendingUpdate, error) { panic("index out of range") }},
		},
		want: map[string]wantOutcome{
			"apt":    {present: true, result: protocol.RunSucceeded, updates: 1},
			"winget": {present: true, result: protocol.RunFailed, msg: "scanner panicked: index out of range"},
		},
		wantStatus: protocol.RunFailed, wantTotal: 1,
		wantByManager: map[string]int32{"apt": 1},
	}, {
		name: "entries are attributed to their scanner, bounded and kept once",
		scanners: []scan.Scanner{returns(mApt, []protocol.PendingUpdate{
			upd(mDnf, "bash", false),
			upd(mApt, "bash", true),
			upd(mApt, " \x1b ", false),
			upd(mApt, strings.Repeat("n", 300), false),
		}, nil)},
		want: map[string]wantOutcome{
			"apt": {present: true, result: protocol.RunSucceeded, msg: "dropped 1 unusable", updates: 2},
		},
		wantStatus: protocol.RunSucceeded, wantTotal: 2, wantSecurity: 1,
		wantByManager: map[string]int32{"apt": 2},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestRunner(t, Config{Updates: tt.scanners, Timeouts: tt.timeouts})
			start := time.Now()
			rep, err := r.Run(context.Background(), Updates)
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("run took %s: a scanner held up the others", took)
			}
			res := rep.Results[0]
			if len(res.Outcomes) != len(tt.scanners) {
				t.Fatalf("%d outcomes for %d scanners", len(res.Outcomes), len(tt.scanners))
			}
			for name, w := range tt.want {
				o := outcome(t, res, name)
				if o.Present != w.present || o.Result != w.result || o.Updates != w.updates {
					t.Errorf("%s: present=%v result=%s updates=%d, want %v %s %d (message %q)",
						name, o.Present, o.Result, o.Updates, w.present, w.result, w.updates, o.Message)
				}
				if w.msg == "" && o.Message != "" || !strings.Contains(o.Message, w.msg) {
					t.Errorf("%s: message %q, want one containing %q", name, o.Message, w.msg)
				}
			}
			if res.Status.Result != tt.wantStatus || res.Status.Name != "updates" || res.Status.LastRun == nil {
				t.Errorf("status = %+v, want result %s", res.Status, tt.wantStatus)
			}
			inv := res.Updates
			if inv.Total != tt.wantTotal || inv.Security != tt.wantSecurity {
				t.Errorf("total=%d security=%d, want %d %d", inv.Total, inv.Security, tt.wantTotal, tt.wantSecurity)
			}
			if fmt.Sprint(inv.ByManager) != fmt.Sprint(tt.wantByManager) {
				t.Errorf("byManager = %v, want %v", inv.ByManager, tt.wantByManager)
			}
			for _, u := range inv.Items {
				if err := scan.Check(u); err != nil {
					t.Errorf("item unfit for the status: %v", err)
				}
			}
			if got := rep.AllFailed(); got != tt.wantAllFailed {
				t.Errorf("AllFailed = %v, want %v", got, tt.wantAllFailed)
			}
		})
	}
}

// TestAbandonsScannerIgnoringCancellation: a scanner that does not return
// when its context ends is left behind after AbandonAfter, and is not
// started a second time until it has returned.
func TestAbandonsScannerIgnoringCancellation(t *testing.T) {
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // never leave the goroutine behind on a failure
	var first atomic.Bool
	first.Store(true)
	stuck := &fakeScanner{manager: mDnf, fn: func(context.Context) ([]protocol.PendingUpdate, error) {
		if first.Swap(false) {
			<-release // only the first call is stuck
		}
		return nil, nil
	}}
	ok := returns(mApt, []protocol.PendingUpdate{upd(mApt, "bash", false)}, nil)
	r, _ := newTestRunner(t, Config{
		Updates:      []scan.Scanner{ok, stuck},
		Timeouts:     map[protocol.PackageManager]time.Duration{mDnf: 20 * time.Millisecond},
		AbandonAfter: 20 * time.Millisecond,
	})

	res := runOne(t, r, Updates)
	if o := outcome(t, res, "dnf"); o.Result != protocol.RunTimedOut || !strings.Contains(o.Message, "abandoned") {
		t.Fatalf("first run: dnf %s %q, want TimedOut and abandoned", o.Result, o.Message)
	}
	if o := outcome(t, res, "apt"); o.Result != protocol.RunSucceeded {
		t.Fatalf("first run: apt %s %q", o.Result, o.Message)
	}
	res = runOne(t, r, Updates)
	if o := outcome(t, res, "dnf"); o.Result != protocol.RunSkipped || !strings.Contains(o.Message, "has not returned") {
		t.Fatalf("second run: dnf %s %q, want Skipped while the first scan runs", o.Result, o.Message)
	}
	if n := stuck.calls.Load(); n != 1 {
		t.Fatalf("stuck scanner started %d times, want 1", n)
	}
	unblock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res = runOne(t, r, Updates)
		if o := outcome(t, res, "dnf"); o.Result == protocol.RunSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dnf never ran again after its stuck scan returned")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInterruptIsNotABreakerFailure: the agent stopping mid-scan fails the
// run but does not count against the scanner.
func TestInterruptIsNotABreakerFailure(t *testing.T) {
	r, _ := newTestRunner(t, Config{Updates: []scan.Scanner{hangs(mApt)}, FailureThreshold: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	rep, err := r.Run(ctx, Updates)
	if err != nil {
		t.Fatal(err)
	}
	if o := rep.Results[0].Outcomes[0]; o.Result != protocol.RunFailed || !strings.Contains(o.Message, "interrupted") {
		t.Fatalf("outcome %s %q, want Failed interrupted", o.Result, o.Message)
	}
	if n := r.states[mApt].breaker.failures; n != 0 {
		t.Fatalf("breaker counted %d failures for an interrupt", n)
	}
}
