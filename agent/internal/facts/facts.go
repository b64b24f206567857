package facts

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/redflag-io/redflag/internal/protocol"
)

// Facts are what Collect found.
type Facts struct {
	Hostname string                 `json:"hostname,omitempty"`
	OS       protocol.OSInfo        `json:"os"`
	System   protocol.SystemFacts   `json:"system"`
	Storage  []protocol.MountStatus `json:"storage,omitempty"`
}

// Hash is a SHA-256 over the canonical JSON of f (storage sorted by mount
// point), as lowercase hex. Equal facts give equal hashes on every
// platform, so the caller can skip resending what the server already has.
// Used space changes on almost every scan; hash f.Coarse() to ignore small
// changes.
func (f Facts) Hash() string {
	c := f
	c.Storage = slices.Clone(f.Storage)
	slices.SortFunc(c.Storage, func(a, b protocol.MountStatus) int {
		return cmp.Or(cmp.Compare(a.MountPoint, b.MountPoint), cmp.Compare(a.Device, b.Device))
	})
	// Marshal cannot fail: Facts holds only strings, numbers, booleans and
	// a time.
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Coarse returns a copy of f with each mount's used space rounded down to
// a whole percent of its size, so f.Coarse().Hash() changes when a disk
// fills by a percent or more, not when a log file grows.
func (f Facts) Coarse() Facts {
	c := f
	c.Storage = slices.Clone(f.Storage)
	for i := range c.Storage {
		if step := c.Storage[i].SizeBytes / 100; step > 0 {
			c.Storage[i].UsedBytes = c.Storage[i].UsedBytes / step * step
		}
	}
	return c
}
