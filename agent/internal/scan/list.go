package scan

import "github.com/redflag-io/redflag/internal/protocol"

// List collects the updates one scan finds. It bounds every field, drops
// entries whose name is empty once cleaned, and keeps one entry per name:
// a later duplicate (the i386 twin of an amd64 package, the same fix from
// two repositories) only adds its security flag to the first. The order of
// first appearance is kept.
type List struct {
	items []protocol.PendingUpdate
	index map[string]int
}

// Add bounds u and records it. It reports whether u was kept as a new
// entry.
func (l *List) Add(u protocol.PendingUpdate) bool {
	u = Bound(u)
	if u.Name == "" {
		return false
	}
	if l.index == nil {
		l.index = make(map[string]int)
	}
	if i, ok := l.index[u.Name]; ok {
		l.items[i].Security = l.items[i].Security || u.Security
		return false
	}
	l.index[u.Name] = len(l.items)
	l.items = append(l.items, u)
	return true
}

// Items returns the collected updates; nil when there are none.
func (l *List) Items() []protocol.PendingUpdate {
	return l.items
}

// Len is the number of distinct updates collected.
func (l *List) Len() int {
	return len(l.items)
}
