package gateway

import (
	"sync"

	toolscache "k8s.io/client-go/tools/cache"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// scheduleIndex holds the ScanSchedules of each namespace, fed by the
// informer, so a check-in can tell which scans are due without an API call.
type scheduleIndex struct {
	mu   sync.RWMutex
	byNS map[string]map[string]redflagv1.ScanSchedule
	// version changes with every schedule change, so plans cached per agent
	// know when they are stale.
	version uint64
}

func newScheduleIndex() *scheduleIndex {
	return &scheduleIndex{byNS: map[string]map[string]redflagv1.ScanSchedule{}}
}

// of returns the namespace's schedules (shared; callers must not modify)
// and the index's version.
func (s *scheduleIndex) of(ns string) ([]redflagv1.ScanSchedule, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.byNS[ns]
	out := make([]redflagv1.ScanSchedule, 0, len(m))
	for _, sc := range m {
		out = append(out, sc)
	}
	return out, s.version
}

// current returns the index's version.
func (s *scheduleIndex) current() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

func (s *scheduleIndex) handler() toolscache.ResourceEventHandler {
	return indexHandler(s.upsert, func(sc *redflagv1.ScanSchedule) {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.byNS[sc.Namespace], sc.Name)
		s.version++
	})
}

func (s *scheduleIndex) upsert(sc *redflagv1.ScanSchedule) {
	// Only what planning reads: a small copy, not the status.
	slim := redflagv1.ScanSchedule{Spec: *sc.Spec.DeepCopy()}
	slim.Name, slim.Namespace, slim.CreationTimestamp = sc.Name, sc.Namespace, sc.CreationTimestamp
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byNS[sc.Namespace] == nil {
		s.byNS[sc.Namespace] = map[string]redflagv1.ScanSchedule{}
	}
	s.byNS[sc.Namespace][sc.Name] = slim
	s.version++
}
