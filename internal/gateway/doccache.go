package gateway

import (
	"sync"
	"time"
)

// docCache keeps each agent's last signed check-in answer. Signing and
// encoding were a third of a check-in's CPU; an unchanged agent gets the same
// answer again until a third of its lifetime has passed, so what it holds is
// always valid for at least two more intervals.
//
// An entry is valid only for the exact agentRecord it was made from: any
// change to the Agent replaces the record, and so misses the cache.
type docCache struct {
	mu      sync.RWMutex
	entries map[string]cachedDoc
}

type cachedDoc struct {
	rec       *agentRecord
	sendFacts bool
	heartbeat bool
	scans     string
	reuseTill time.Time
	body      []byte
}

func (c *docCache) get(rec *agentRecord, sendFacts, heartbeat bool, scans string, now time.Time) ([]byte, bool) {
	c.mu.RLock()
	e, ok := c.entries[rec.key]
	c.mu.RUnlock()
	if !ok || e.rec != rec || e.sendFacts != sendFacts || e.heartbeat != heartbeat || e.scans != scans || !now.Before(e.reuseTill) {
		return nil, false
	}
	return e.body, true
}

func (c *docCache) put(rec *agentRecord, sendFacts, heartbeat bool, scans string, now time.Time, interval time.Duration, body []byte) {
	reuse := interval
	if heartbeat {
		// Heartbeat answers carry heartbeatUntil; keep them short-lived.
		reuse = time.Second
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]cachedDoc{}
	}
	c.entries[rec.key] = cachedDoc{rec: rec, sendFacts: sendFacts, heartbeat: heartbeat, scans: scans, reuseTill: now.Add(reuse), body: body}
	c.mu.Unlock()
}

// forget drops an agent's entry (it was deleted).
func (c *docCache) forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}
