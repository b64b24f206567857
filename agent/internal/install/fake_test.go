package install

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// fake is an installer whose manager does what the test says: it plans
// the selected upgrades plus extra, and records what it was asked.
type fake struct {
	m          protocol.PackageManager
	pending    []protocol.PendingUpdate
	pendingErr error
	extra      []installer.Change
	planErr    error
	installErr error
	// hang makes the named phase wait for its context.
	hang string
	// panicIn makes the named phase panic.
	panicIn string
	reboot  bool

	planned, installed [][]string
}

func (f *fake) Manager() protocol.PackageManager { return f.m }

func (f *fake) Selects(name string, u protocol.PendingUpdate) bool { return name == u.Name }

func (f *fake) Keys(u protocol.PendingUpdate) []string { return []string{u.Name} }

func (f *fake) Pending(ctx context.Context, _ *slog.Logger) ([]protocol.PendingUpdate, error) {
	if err := f.act(ctx, "pending"); err != nil {
		return nil, err
	}
	return f.pending, f.pendingErr
}

func (f *fake) Plan(ctx context.Context, req installer.Request) (installer.Plan, error) {
	f.planned = append(f.planned, req.Names())
	if err := f.act(ctx, "plan"); err != nil {
		return installer.Plan{}, err
	}
	if f.planErr != nil {
		return installer.Plan{}, f.planErr
	}
	var p installer.Plan
	for _, u := range req.Updates {
		p.Changes = append(p.Changes, installer.Change{Name: u.Name, From: u.CurrentVersion, To: u.AvailableVersion, Kind: installer.Upgrade})
	}
	p.Changes = append(p.Changes, f.extra...)
	return p, nil
}

func (f *fake) Install(ctx context.Context, req installer.Request, plan installer.Plan) (installer.Result, error) {
	f.installed = append(f.installed, req.Names())
	if err := f.act(ctx, "install"); err != nil {
		return installer.Result{}, err
	}
	if f.installErr != nil {
		// Part of the work was done before the failure.
		return installer.Result{Changes: plan.Changes[:1]}, f.installErr
	}
	return installer.Result{Changes: plan.Changes, RebootRequired: f.reboot}, nil
}

func (f *fake) act(ctx context.Context, phase string) error {
	if f.panicIn == phase {
		panic("fake " + phase + " bug")
	}
	if f.hang == phase {
		<-ctx.Done()
		return fmt.Errorf("%s: %w", phase, context.Cause(ctx))
	}
	return nil
}

func absentFake(m protocol.PackageManager) *fake {
	return &fake{m: m, pendingErr: fmt.Errorf("%s: %w", m, scan.ErrNotInstalled)}
}

func pu(m protocol.PackageManager, name, from, to string, security bool) protocol.PendingUpdate {
	return protocol.PendingUpdate{Manager: m, Name: name, CurrentVersion: from, AvailableVersion: to, Security: security}
}

func quiet() Options {
	return Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: time.Minute}
}

func asInstallers(fs ...*fake) []installer.Installer {
	out := make([]installer.Installer, len(fs))
	for i, f := range fs {
		out[i] = f
	}
	return out
}
