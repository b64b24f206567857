package scanrun

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// manyUpdates returns n distinct updates spread over three managers, every
// seventh a security update, in a shuffled order.
func manyUpdates(n int, seed uint64) []protocol.PendingUpdate {
	managers := []protocol.PackageManager{mWinget, mApt, mDnf}
	items := make([]protocol.PendingUpdate, n)
	for i := range items {
		items[i] = upd(managers[i%3], fmt.Sprintf("pkg-%03d", i), i%7 == 0)
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	return items
}

// before is the documented order, written out independently of
// compareUpdates: security first, then manager, then name.
func before(a, b protocol.PendingUpdate) bool {
	if a.Security != b.Security {
		return a.Security
	}
	if a.Manager != b.Manager {
		return a.Manager < b.Manager
	}
	return a.Name < b.Name
}

func TestNewInventory(t *testing.T) {
	at := t0.Add(time.Minute)
	for _, n := range []int{0, 1, 199, 200, 201, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			items := manyUpdates(n, uint64(n))
			inv := NewInventory(items, at)

			var wantSec int32
			wantBy := map[string]int32{}
			for _, u := range items {
				wantBy[string(u.Manager)]++
				if u.Security {
					wantSec++
				}
			}
			if inv.Total != int32(n) || inv.Security != wantSec {
				t.Errorf("total=%d security=%d, want %d %d", inv.Total, inv.Security, n, wantSec)
			}
			if n > 0 && fmt.Sprint(inv.ByManager) != fmt.Sprint(wantBy) {
				t.Errorf("byManager = %v, want %v", inv.ByManager, wantBy)
			}
			if len(inv.Items) != min(n, protocol.MaxUpdateItems) || inv.Truncated != (n > protocol.MaxUpdateItems) {
				t.Errorf("%d items, truncated=%v", len(inv.Items), inv.Truncated)
			}
			if inv.ScannedAt == nil || !inv.ScannedAt.Time.Equal(at) {
				t.Errorf("scannedAt = %v", inv.ScannedAt)
			}
			for i := 1; i < len(inv.Items); i++ {
				if !before(inv.Items[i-1], inv.Items[i]) {
					t.Fatalf("items %d and %d out of order: %+v, %+v", i-1, i, inv.Items[i-1], inv.Items[i])
				}
			}
			// What was cut must all sort after what was kept.
			if inv.Truncated {
				last := inv.Items[len(inv.Items)-1]
				for _, u := range items {
					if !slices.Contains(inv.Items, u) && before(u, last) {
						t.Fatalf("cut %+v, which sorts before the last kept %+v", u, last)
					}
				}
			}
		})
	}
}

// TestRunCountsEveryItem: through the runner, counts cover all 500 fake
// updates while the list stops at the API's bound.
func TestRunCountsEveryItem(t *testing.T) {
	all := manyUpdates(500, 1)
	byManager := map[protocol.PackageManager][]protocol.PendingUpdate{}
	for _, u := range all {
		byManager[u.Manager] = append(byManager[u.Manager], u)
	}
	r, _ := newTestRunner(t, Config{Updates: []scan.Scanner{
		returns(mApt, byManager[mApt], nil),
		returns(mDnf, byManager[mDnf], nil),
		returns(mWinget, byManager[mWinget], nil),
	}})
	inv := runOne(t, r, Updates).Updates
	if inv.Total != 500 || inv.Security != 72 || !inv.Truncated || len(inv.Items) != protocol.MaxUpdateItems {
		t.Fatalf("total=%d security=%d truncated=%v items=%d", inv.Total, inv.Security, inv.Truncated, len(inv.Items))
	}
	if inv.ByManager["apt"]+inv.ByManager["dnf"]+inv.ByManager["winget"] != 500 {
		t.Fatalf("byManager = %v", inv.ByManager)
	}
	for i, u := range inv.Items {
		if u.Security != (i < 72) {
			t.Fatalf("item %d security=%v: security updates must come first", i, u.Security)
		}
	}
}

func TestInventoryHash(t *testing.T) {
	items := manyUpdates(300, 7)
	base := InventoryHash(NewInventory(items, t0))
	if len(base) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", base)
	}
	change := func(f func(u *protocol.PendingUpdate)) []protocol.PendingUpdate {
		c := slices.Clone(items)
		f(&c[0])
		return c
	}
	tests := []struct {
		name  string
		inv   protocol.UpdateInventory
		equal bool
	}{
		{"same", NewInventory(items, t0), true},
		{"other order and scan time", NewInventory(manyUpdates(300, 99), t0.Add(time.Hour)), true},
		{"no scan time", NewInventory(items, time.Time{}), true},
		{"items handed over unsorted", func() protocol.UpdateInventory {
			inv := NewInventory(items, t0)
			rand.New(rand.NewPCG(3, 3)).Shuffle(len(inv.Items), func(i, j int) { inv.Items[i], inv.Items[j] = inv.Items[j], inv.Items[i] })
			return inv
		}(), true},
		{"another available version", NewInventory(change(func(u *protocol.PendingUpdate) { u.AvailableVersion = "9" }), t0), false},
		{"security flag", NewInventory(change(func(u *protocol.PendingUpdate) { u.Security = !u.Security }), t0), false},
		{"one update fewer", NewInventory(items[1:], t0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InventoryHash(tt.inv); (got == base) != tt.equal {
				t.Errorf("hash %s vs %s: want equal=%v", got, base, tt.equal)
			}
		})
	}
}
