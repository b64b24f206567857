package scanrun

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/redflag-io/redflag/internal/protocol"
)

// InventoryHash is a SHA-256, as lowercase hex, over the JSON of inv
// without ScannedAt and with Items in NewInventory's order. Equal
// inventories give equal hashes whenever they were taken and however
// their items were ordered, so the caller skips resending one that did not
// change.
func InventoryHash(inv protocol.UpdateInventory) string {
	inv.ScannedAt = nil
	inv.Items = slices.SortedFunc(slices.Values(inv.Items), compareUpdates)
	// Marshal cannot fail on strings, numbers, booleans and a string-keyed
	// map; the error is still handled rather than hashed over.
	b, err := json.Marshal(inv)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
