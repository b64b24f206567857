package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/install"
	"github.com/redflag-io/redflag/internal/protocol"
)

// reports collects what a works or scans queues, in order.
type reports struct {
	mu  sync.Mutex
	all []protocol.WorkResult
	// scans are the scan reports.
	scans []protocol.ScanResult
}

func (r *reports) queue(rep protocol.Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rep.Work != nil {
		r.all = append(r.all, *rep.Work)
	}
	if rep.Scan != nil {
		r.scans = append(r.scans, *rep.Scan)
	}
}

// scanIDs are the IDs of the scan reports, in order.
func (r *reports) scanIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.scans {
		out = append(out, s.ID)
	}
	return out
}

func (r *reports) last(t *testing.T) protocol.WorkResult {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) == 0 {
		t.Fatal("no work report was queued")
	}
	return r.all[len(r.all)-1]
}

// TestRedoAfterKillReportsVersionsFromBeforeTheFirstAttempt: an agent
// killed mid-install (after the package manager upgraded the packages)
// redoes the work after restart; the redo plans from the upgraded host,
// where "before" equals "after", yet its report shows the versions the
// packages had before the first attempt.
func TestRedoAfterKillReportsVersionsFromBeforeTheFirstAttempt(t *testing.T) {
	req := protocol.WorkRequest{
		ID: "patch-web.0123abcd.r0", AgentUpdate: "patch-web",
		Packages: &protocol.PackageWork{Scope: protocol.ScopeAll}, Reboot: protocol.RebootNever,
	}
	firstPlan := []protocol.PackageChange{
		{Manager: protocol.ManagerApt, Name: "openssl", From: "3.0.14", To: "3.0.15"},
		{Manager: protocol.ManagerApt, Name: "curl", From: "7.88.1-10", To: "7.88.1-11"},
		{Manager: protocol.ManagerApt, Name: "libnew1", From: "", To: "1.0-1"}, // pulled in, new
	}
	// What the host looks like after the first attempt's upgrades: the
	// redo's plan, and its read-back, see the new versions as the old.
	afterUpgrade := []protocol.PackageChange{
		{Manager: protocol.ManagerApt, Name: "openssl", From: "3.0.15", To: "3.0.15"},
		{Manager: protocol.ManagerApt, Name: "curl", From: "7.88.1-11", To: "7.88.1-11"},
		{Manager: protocol.ManagerApt, Name: "libnew1", From: "1.0-1", To: "1.0-1"},
		{Manager: protocol.ManagerApt, Name: "zlib1g", From: "1:1.2.13", To: "1:1.2.13.1"}, // only the redo plans it
	}

	// The first agent: plans, starts installing, and is killed there.
	dir := t.TempDir()
	first := newWorks(dir, slog.New(slog.DiscardHandler))
	killed, release := make(chan struct{}), make(chan struct{})
	first.install = func(_ context.Context, _ protocol.PackageWork, _ bool, opts install.Options) (install.Outcome, error) {
		opts.Planned(firstPlan)
		close(killed)
		<-release
		return install.Outcome{}, errors.New("never seen: this process is dead")
	}
	var firstReports reports
	first.start(context.Background(), &req, firstReports.queue)
	<-killed
	// What the killed agent left on disk is what the restarted one reads.
	restartedDir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(dir, workFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restartedDir, workFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	close(release)
	first.wg.Wait()

	// The restarted agent is offered the same work and redoes it.
	redo := newWorks(restartedDir, slog.New(slog.DiscardHandler))
	if redo.state.done(req.ID) {
		t.Fatal("the interrupted work counts as done after restart")
	}
	redo.install = func(_ context.Context, _ protocol.PackageWork, _ bool, opts install.Options) (install.Outcome, error) {
		opts.Planned(afterUpgrade)
		return install.Outcome{Changes: slices.Clone(afterUpgrade), Message: "upgraded 4 packages with apt"}, nil
	}
	var got reports
	redo.start(context.Background(), &req, got.queue)
	redo.wg.Wait()

	final := got.last(t)
	if final.ID != req.ID || final.Phase != protocol.WorkSucceeded {
		t.Fatalf("redo reported %s %s (%s), want %s Succeeded", final.ID, final.Phase, final.Message, req.ID)
	}
	want := []protocol.PackageChange{
		{Manager: protocol.ManagerApt, Name: "openssl", From: "3.0.14", To: "3.0.15"},
		{Manager: protocol.ManagerApt, Name: "curl", From: "7.88.1-10", To: "7.88.1-11"},
		{Manager: protocol.ManagerApt, Name: "libnew1", From: "", To: "1.0-1"},
		{Manager: protocol.ManagerApt, Name: "zlib1g", From: "1:1.2.13", To: "1:1.2.13.1"},
	}
	if !slices.Equal(final.Changes, want) {
		t.Errorf("the redo reported changes\n%+v\nwant the versions from before the first attempt\n%+v", final.Changes, want)
	}

	// Reported: the record forgets the versions and remembers the ID.
	ws, err := readWorkState(restartedDir)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Before != nil || !ws.done(req.ID) {
		t.Errorf("after the redo finished, work state keeps versions %+v (done: %v)", ws.Before, ws.done(req.ID))
	}
}

// TestVersionsBeforeBelongToOneWork: versions recorded for one piece of
// work never change another's report, and a first attempt's versions are
// kept over a later attempt's.
func TestVersionsBeforeBelongToOneWork(t *testing.T) {
	var ws workState
	apt := protocol.ManagerApt
	ws.remember("a", []protocol.PackageChange{{Manager: apt, Name: "openssl", From: "3.0.14", To: "3.0.15"}})
	ws.remember("a", []protocol.PackageChange{{Manager: apt, Name: "openssl", From: "3.0.15", To: "3.0.16"}})
	changes := []protocol.PackageChange{{Manager: apt, Name: "openssl", From: "3.0.15", To: "3.0.16"}}
	if got := ws.withBefore("a", changes); got[0].From != "3.0.14" {
		t.Errorf("work a reports from %s, want the first attempt's 3.0.14", got[0].From)
	}
	if got := ws.withBefore("b", changes); got[0].From != "3.0.15" {
		t.Errorf("work b reports from %s, want its own 3.0.15", got[0].From)
	}
	// The same name under another manager is another package.
	dnf := []protocol.PackageChange{{Manager: protocol.ManagerDnf, Name: "openssl", From: "3.0.7-1", To: "3.0.7-2"}}
	if got := ws.withBefore("a", dnf); got[0].From != "3.0.7-1" {
		t.Errorf("dnf's openssl reports from %s, want its own 3.0.7-1", got[0].From)
	}
	if changes[0].From != "3.0.15" {
		t.Error("withBefore changed its argument")
	}
	// Work b starting replaces a's versions.
	ws.remember("b", changes)
	if ws.Before.ID != "b" || len(ws.Before.Packages) != 1 || ws.Before.Packages[0].From != "3.0.15" {
		t.Errorf("after work b planned, versions before are %+v", ws.Before)
	}
}

// TestAbandonedWorkIsDroppedNotResumed: an agent killed mid-install whose
// rollout then timed it out is told so after restart: it drops the
// interrupted work (Failed, HostTimedOut in work.json, reported once),
// never runs that ID again even if it were offered, and keeps that across
// another restart. Work running in the process is left to finish.
func TestAbandonedWorkIsDroppedNotResumed(t *testing.T) {
	dir := t.TempDir()
	const id = "patch-web.0123abcd"
	started := time.Now().UTC()
	if err := writeWorkState(dir, workState{
		Current: &protocol.WorkResult{ID: id, AgentUpdate: "patch-web", Phase: protocol.WorkRunning, Started: started},
		Before:  &beforeVersions{ID: id, Packages: []protocol.PackageChange{{Manager: protocol.ManagerApt, Name: "openssl", From: "3.0.14"}}},
	}); err != nil {
		t.Fatal(err)
	}
	w := newWorks(dir, slog.New(slog.DiscardHandler))
	installs := 0
	w.install = func(context.Context, protocol.PackageWork, bool, install.Options) (install.Outcome, error) {
		installs++
		return install.Outcome{}, nil
	}
	if got := w.abandon([]string{id, "other.feedf00d"}); !slices.Equal(got, []string{id}) {
		t.Fatalf("dropped %v, want the interrupted %s only", got, id)
	}
	if got := w.abandon([]string{id}); len(got) != 0 {
		t.Errorf("dropped %v again: the drop is reported once", got)
	}
	req := protocol.WorkRequest{ID: id, AgentUpdate: "patch-web", Packages: &protocol.PackageWork{Scope: protocol.ScopeAll}}
	var got reports
	w.start(context.Background(), &req, got.queue)
	w.wg.Wait()

	restarted := newWorks(dir, slog.New(slog.DiscardHandler))
	restarted.install = w.install
	restarted.start(context.Background(), &req, got.queue)
	restarted.wg.Wait()
	if installs != 0 || len(got.all) != 0 {
		t.Fatalf("abandoned work ran: %d installs, reports %+v", installs, got.all)
	}
	ws := restarted.state
	if c := ws.Current; c == nil || c.Phase != protocol.WorkFailed || c.Reason != "HostTimedOut" || c.Finished == nil {
		t.Errorf("work.json current %+v: want Failed, HostTimedOut", c)
	}
	if !ws.done(id) || !ws.done("other.feedf00d") || ws.Before != nil {
		t.Errorf("work.json %+v: want both IDs finished and no versions kept", ws)
	}

	// Running in this process: not dropped, it finishes and reports.
	release := make(chan struct{})
	running := newWorks(t.TempDir(), slog.New(slog.DiscardHandler))
	running.install = func(context.Context, protocol.PackageWork, bool, install.Options) (install.Outcome, error) {
		<-release
		return install.Outcome{Message: "upgraded 1 package"}, nil
	}
	running.start(context.Background(), &req, got.queue)
	if d := running.abandon([]string{id}); len(d) != 0 {
		t.Errorf("dropped running work %v", d)
	}
	close(release)
	running.wg.Wait()
	if last := got.last(t); last.Phase != protocol.WorkSucceeded {
		t.Errorf("running work reported %s, want it to finish", last.Phase)
	}
}
