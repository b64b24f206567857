// Package outbox keeps the agent's reports on disk until the gateway has
// acknowledged them, so nothing is lost while the gateway or the API server
// is away or the agent restarts. It is bounded: past its limits the oldest
// reports are dropped first, and the drops are counted so the loss is
// reported rather than silent.
package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

const (
	suffix       = ".json"
	droppedFile  = "dropped"
	tempPrefix   = ".tmp-"
	badSuffix    = ".bad"
	defaultItems = 1000
	defaultBytes = 16 << 20
)

// Item is one stored report.
type Item struct {
	// Name is the file name, which sorts oldest first.
	Name   string
	Report protocol.Report
	size   int64
}

// Outbox is a directory of pending reports.
type Outbox struct {
	dir      string
	maxItems int
	maxBytes int64

	mu  sync.Mutex
	seq uint64
}

// Open uses dir (created 0700) with at most maxItems reports and maxBytes of
// them; zero picks the defaults (1000 reports, 16 MiB).
func Open(dir string, maxItems int, maxBytes int64) (*Outbox, error) {
	if maxItems <= 0 {
		maxItems = defaultItems
	}
	if maxBytes <= 0 {
		maxBytes = defaultBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: creating %s: %w", dir, err)
	}
	return &Outbox{dir: dir, maxItems: maxItems, maxBytes: maxBytes}, nil
}

// Put stores a report durably (written, synced, renamed into place) and then
// enforces the bounds.
func (o *Outbox) Put(r protocol.Report) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("outbox: encoding report: %w", err)
	}
	if int64(len(data)) > o.maxBytes {
		return fmt.Errorf("outbox: report of %d bytes is over the outbox's %d-byte limit", len(data), o.maxBytes)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	name := fmt.Sprintf("%020d-%06d%s", time.Now().UnixNano(), o.seq%1_000_000, suffix)
	if err := writeFileSync(filepath.Join(o.dir, name), data); err != nil {
		return err
	}
	return o.enforceLocked()
}

// Pending returns stored reports, oldest first. An unreadable file is moved
// aside (renamed *.bad) and counted as dropped, never retried forever.
func (o *Outbox) Pending() ([]Item, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pendingLocked()
}

func (o *Outbox) pendingLocked() ([]Item, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: listing %s: %w", o.dir, err)
	}
	var items []Item
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, suffix) || strings.HasPrefix(name, tempPrefix) {
			continue
		}
		path := filepath.Join(o.dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("outbox: reading %s: %w", path, err)
		}
		var r protocol.Report
		if err := json.Unmarshal(data, &r); err != nil || r.IdempotencyKey == "" {
			_ = os.Rename(path, path+badSuffix)
			o.addDroppedLocked(1)
			continue
		}
		items = append(items, Item{Name: name, Report: r, size: int64(len(data))})
	}
	slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.Name, b.Name) })
	return items, nil
}

// Ack removes a delivered report.
func (o *Outbox) Ack(it Item) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := os.Remove(filepath.Join(o.dir, it.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("outbox: removing delivered report: %w", err)
	}
	return nil
}

// Dropped is how many reports were dropped (over the bounds, or unreadable)
// since the outbox was created.
func (o *Outbox) Dropped() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.droppedLocked()
}

func (o *Outbox) enforceLocked() error {
	items, err := o.pendingLocked()
	if err != nil {
		return err
	}
	var total int64
	for _, it := range items {
		total += it.size
	}
	drop := 0
	for len(items)-drop > o.maxItems || total > o.maxBytes {
		total -= items[drop].size
		if err := os.Remove(filepath.Join(o.dir, items[drop].Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("outbox: dropping oldest report: %w", err)
		}
		drop++
	}
	if drop > 0 {
		o.addDroppedLocked(uint64(drop))
	}
	return nil
}

func (o *Outbox) droppedLocked() uint64 {
	data, err := os.ReadFile(filepath.Join(o.dir, droppedFile))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return n
}

func (o *Outbox) addDroppedLocked(n uint64) {
	// Best effort: losing the count must not stop the agent.
	_ = writeFileSync(filepath.Join(o.dir, droppedFile), []byte(strconv.FormatUint(o.droppedLocked()+n, 10)))
}

// writeFileSync writes data to path atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory.
func writeFileSync(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("outbox: creating temporary file: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("outbox: writing %s: %w", path, werr)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
