package gateway

import "time"

// The document cache keeps each agent's last signed check-in answer (in
// agentState.doc). Signing and encoding were a third of a check-in's CPU;
// an unchanged agent gets the same answer again until a third of its
// lifetime has passed, so what it holds is always valid for at least two
// more intervals.
//
// An entry is valid only for the exact agentRecord it was made from: any
// change to the Agent replaces the record, and so misses the cache.
type cachedDoc struct {
	rec       *agentRecord
	sendFacts bool
	heartbeat bool
	scans     string
	reuseTill time.Time
	body      []byte
}

func (s *agentState) cachedDoc(rec *agentRecord, sendFacts, heartbeat bool, scans string, now time.Time) ([]byte, bool) {
	s.mu.Lock()
	e := s.doc
	s.mu.Unlock()
	if e.rec != rec || e.sendFacts != sendFacts || e.heartbeat != heartbeat || e.scans != scans || !now.Before(e.reuseTill) {
		return nil, false
	}
	return e.body, true
}

func (s *agentState) cacheDoc(rec *agentRecord, sendFacts, heartbeat bool, scans string, now time.Time, interval time.Duration, body []byte) {
	reuse := interval
	if heartbeat {
		// Heartbeat answers carry heartbeatUntil; keep them short-lived.
		reuse = time.Second
	}
	s.mu.Lock()
	if !s.gone {
		s.doc = cachedDoc{rec: rec, sendFacts: sendFacts, heartbeat: heartbeat, scans: scans, reuseTill: now.Add(reuse), body: body}
	}
	s.mu.Unlock()
}
