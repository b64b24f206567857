package history

import (
	"sort"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Bounds on one entry, as the CRD schema states them (HistoryEntry).
const (
	// MaxMetadataKey is the longest metadata key the schema accepts.
	MaxMetadataKey = 63
	// MaxMetadataValue is the longest metadata value the schema accepts.
	MaxMetadataValue = 128
)

// Append returns entries with e added last, newest last, never longer than
// MaxHistoryEntries. The oldest entries go first, except the newest Normal
// entry (the last success): while Warnings pile up it stays, so a status
// always shows when things last went right. e is cut to the schema bounds
// first. entries itself is not modified.
func Append(entries []redflagv1.HistoryEntry, e redflagv1.HistoryEntry) []redflagv1.HistoryEntry {
	out := make([]redflagv1.HistoryEntry, 0, len(entries)+1)
	out = append(out, entries...)
	out = append(out, Bound(e))
	for len(out) > redflagv1.MaxHistoryEntries {
		drop := 0
		if lastNormal(out) == 0 {
			drop = 1
		}
		out = append(out[:drop], out[drop+1:]...)
	}
	return out
}

// lastNormal is the index of the newest Normal entry, or -1.
func lastNormal(entries []redflagv1.HistoryEntry) int {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Type == corev1.EventTypeNormal {
			return i
		}
	}
	return -1
}

// Bound cuts e to what the schema accepts: the message to MaxMessageLength
// bytes, at most MaxMetadataEntries metadata entries (the first keys in
// sorted order, so the choice is stable), keys to 63 and values to 128
// bytes, never splitting a UTF-8 character. The metadata map is copied.
func Bound(e redflagv1.HistoryEntry) redflagv1.HistoryEntry {
	e.Message = truncate(e.Message, redflagv1.MaxMessageLength)
	if len(e.Metadata) == 0 {
		e.Metadata = nil
		return e
	}
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	md := make(map[string]string, min(len(keys), redflagv1.MaxMetadataEntries))
	for _, k := range keys {
		if len(md) == redflagv1.MaxMetadataEntries {
			break
		}
		short := truncate(k, MaxMetadataKey)
		if _, taken := md[short]; taken || short == "" {
			// Two long keys can share a 63-byte prefix; the first
			// (in sorted order) wins rather than being overwritten.
			continue
		}
		md[short] = truncate(e.Metadata[k], MaxMetadataValue)
	}
	e.Metadata = md
	return e
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
