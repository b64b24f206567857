package scanrun

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// NewInventory builds the inventory of items scanned at scannedAt (zero
// leaves ScannedAt unset). Total, Security and ByManager count every item;
// Items holds them security first, then by manager and name, cut to
// protocol.MaxUpdateItems with Truncated set when anything was cut. Items
// are taken as given: the runner has already bounded them and removed
// duplicates within each manager.
func NewInventory(items []protocol.PendingUpdate, scannedAt time.Time) protocol.UpdateInventory {
	var inv protocol.UpdateInventory
	if !scannedAt.IsZero() {
		t := protocol.NewTime(scannedAt)
		inv.ScannedAt = &t
	}
	if len(items) == 0 {
		return inv
	}
	inv.ByManager = make(map[string]int32)
	for _, u := range items {
		inv.Total = inc(inv.Total)
		if u.Security {
			inv.Security = inc(inv.Security)
		}
		inv.ByManager[string(u.Manager)] = inc(inv.ByManager[string(u.Manager)])
	}
	sorted := slices.SortedFunc(slices.Values(items), compareUpdates)
	if len(sorted) > protocol.MaxUpdateItems {
		// Clone so the cut list does not pin the whole backing array.
		sorted = slices.Clone(sorted[:protocol.MaxUpdateItems])
		inv.Truncated = true
	}
	inv.Items = sorted
	return inv
}

// compareUpdates orders security updates first, then by manager and name;
// the remaining fields only make the order total, so equal inputs always
// give equal lists.
func compareUpdates(a, b protocol.PendingUpdate) int {
	return cmp.Or(
		compareBool(b.Security, a.Security),
		cmp.Compare(a.Manager, b.Manager),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.AvailableVersion, b.AvailableVersion),
		cmp.Compare(a.CurrentVersion, b.CurrentVersion),
		cmp.Compare(a.Source, b.Source),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

// inc adds one without overflowing the API's int32 counters.
func inc(n int32) int32 {
	if n == math.MaxInt32 {
		return n
	}
	return n + 1
}
