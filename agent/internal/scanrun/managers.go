package scanrun

import (
	"context"
	"slices"
	"sync"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// runManagers runs the scanners of one subsystem and merges their lists.
//
// The scanners run concurrently: they are independent processes that share
// no lock (apt and dnf do not live on one host; winget and Windows Update
// are separate searches), so a run lasts as long as its slowest scanner
// rather than the sum, and a Windows Update search of many minutes does
// not hold back winget. There are at most a handful of them, mostly
// waiting on I/O, so running them together costs little even on a small
// host.
func (r *Runner) runManagers(ctx context.Context, sub Subsystem, scanners []scan.Scanner, opts scan.Options) Result {
	outs := make([]Outcome, len(scanners))
	lists := make([][]protocol.PendingUpdate, len(scanners))
	var wg sync.WaitGroup
	for i, s := range scanners {
		wg.Go(func() {
			outs[i], lists[i] = r.scanManager(ctx, s, opts)
		})
	}
	wg.Wait()

	at := r.cfg.Clock.Now()
	inv := NewInventory(slices.Concat(lists...), at)
	return Result{
		Subsystem: sub,
		Status:    rollup(sub, outs, at),
		Outcomes:  outs,
		Updates:   &inv,
		Hash:      InventoryHash(inv),
	}
}

// normalise makes a scanner's list fit for the status whatever the
// scanner did: every entry is attributed to the manager that found it
// (ByManager keys and the API's enum depend on it), bounded, and kept once
// per name. It returns how many entries were dropped as unusable.
func normalise(m protocol.PackageManager, items []protocol.PendingUpdate) ([]protocol.PendingUpdate, int) {
	var list scan.List
	dropped := 0
	for _, u := range items {
		u.Manager = m
		if scan.Check(scan.Bound(u)) != nil {
			dropped++
			continue
		}
		list.Add(u)
	}
	return list.Items(), dropped
}
