package scanrun

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestBreaker walks one failing package manager through its breaker:
// three failures open it, it is skipped with its retry time until the
// cool-down ends, a failed trial reopens it for twice as long, and a
// success resets both the count and the cool-down. apt keeps working
// throughout.
func TestBreaker(t *testing.T) {
	broken := true // read by the scanner only while Run waits for it
	flaky := &fakeScanner{manager: mDnf, fn: func(context.Context) ([]protocol.PendingUpdate, error) {
		if broken {
			return nil, errBroken
		}
		return nil, nil
	}}
	ok := returns(mApt, []protocol.PendingUpdate{upd(mApt, "bash", false)}, nil)
	r, clk := newTestRunner(t, Config{
		Updates:          []scan.Scanner{ok, flaky},
		FailureThreshold: 3,
		CoolDown:         CoolDown{First: 10 * time.Minute, Max: time.Hour},
	})
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }

	steps := []struct {
		name    string
		now     time.Duration // since t0
		broken  bool
		want    protocol.RunResult
		calls   int32
		msg     string // substring of the dnf message
		without string // must not appear in it
	}{
		{name: "first failure", now: 0, broken: true, want: protocol.RunFailed, calls: 1, msg: "E: broken", without: "circuit"},
		{name: "second failure", now: time.Minute, broken: true, want: protocol.RunFailed, calls: 2, without: "circuit"},
		{name: "third failure opens", now: 2 * time.Minute, broken: true, want: protocol.RunFailed, calls: 3,
			msg: "circuit open until " + at(12*time.Minute)},
		{name: "open: skipped with retry time", now: 3 * time.Minute, broken: true, want: protocol.RunSkipped, calls: 3,
			msg: "retries after " + at(12*time.Minute) + "; 3 consecutive failures, last: " + errBroken.Error()},
		{name: "still open just before", now: 12*time.Minute - time.Second, broken: true, want: protocol.RunSkipped, calls: 3},
		{name: "trial fails: reopens for twice as long", now: 12 * time.Minute, broken: true, want: protocol.RunFailed, calls: 4,
			msg: "circuit open until " + at(32*time.Minute)},
		{name: "open again", now: 31 * time.Minute, broken: true, want: protocol.RunSkipped, calls: 4,
			msg: "retries after " + at(32*time.Minute)},
		{name: "trial succeeds: closes", now: 32 * time.Minute, broken: false, want: protocol.RunSucceeded, calls: 5},
		{name: "count restarted", now: 33 * time.Minute, broken: true, want: protocol.RunFailed, calls: 6, without: "circuit"},
		{name: "count restarted 2", now: 34 * time.Minute, broken: true, want: protocol.RunFailed, calls: 7, without: "circuit"},
		{name: "cool-down restarted", now: 35 * time.Minute, broken: true, want: protocol.RunFailed, calls: 8,
			msg: "circuit open until " + at(45*time.Minute)},
	}
	for _, s := range steps {
		clk.SetTime(t0.Add(s.now))
		broken = s.broken
		res := runOne(t, r, Updates)
		o := outcome(t, res, "dnf")
		if o.Result != s.want || flaky.calls.Load() != s.calls {
			t.Fatalf("%s: dnf %s after %d calls, want %s after %d (message %q)",
				s.name, o.Result, flaky.calls.Load(), s.want, s.calls, o.Message)
		}
		if !strings.Contains(o.Message, s.msg) || (s.without != "" && strings.Contains(o.Message, s.without)) {
			t.Fatalf("%s: dnf message %q, want %q and not %q", s.name, o.Message, s.msg, s.without)
		}
		if a := outcome(t, res, "apt"); a.Result != protocol.RunSucceeded || res.Updates.ByManager["apt"] != 1 {
			t.Fatalf("%s: apt %s %q: a failing dnf affected apt", s.name, a.Result, a.Message)
		}
	}
}

// TestKeepsLastGoodList: a failure keeps the manager's last list in the
// inventory (same hash, KeptFrom set), while a manager that disappears
// takes its list with it.
func TestKeepsLastGoodList(t *testing.T) {
	state := "ok"
	dnfItems := []protocol.PendingUpdate{upd(mDnf, "kernel", true), upd(mDnf, "glibc", false)}
	dnf := &fakeScanner{manager: mDnf, fn: func(context.Context) ([]protocol.PendingUpdate, error) {
		switch state {
		case "ok":
			return dnfItems, nil
		case "gone":
			return notInstalled(mDnf).fn(context.Background())
		default:
			return nil, errBroken
		}
	}}
	ok := returns(mApt, []protocol.PendingUpdate{upd(mApt, "bash", false)}, nil)
	r, clk := newTestRunner(t, Config{Updates: []scan.Scanner{ok, dnf}})

	first := runOne(t, r, Updates)
	clk.SetTime(t0.Add(time.Hour))
	state = "broken"
	second := runOne(t, r, Updates)
	o := outcome(t, second, "dnf")
	if o.Result != protocol.RunFailed || o.KeptFrom == nil || !o.KeptFrom.Time.Equal(t0) || o.Updates != 2 ||
		!strings.Contains(o.Message, "keeping the 2 update(s) found at "+t0.Format(time.RFC3339)) {
		t.Fatalf("after a failure: %+v", o)
	}
	if second.Updates.Total != 3 || second.Updates.ByManager["dnf"] != 2 || second.Hash != first.Hash {
		t.Fatalf("inventory changed on a transient failure: %+v (hash %s, was %s)", second.Updates, second.Hash, first.Hash)
	}
	if second.Updates.ScannedAt.Time.Equal(first.Updates.ScannedAt.Time) {
		t.Fatal("ScannedAt did not move")
	}

	state = "gone"
	third := runOne(t, r, Updates)
	if o := outcome(t, third, "dnf"); o.Present || o.KeptFrom != nil || third.Updates.Total != 1 {
		t.Fatalf("after dnf disappeared: %+v, total %d", o, third.Updates.Total)
	}
}
