package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redflag-io/redflag/internal/atomicfile"
)

// stateFile is the daemon's last word about itself, for `redflag-agent status`.
const stateFile = "state.json"

// State is what `redflag-agent status` shows.
type State struct {
	Agent          string     `json:"agent"`
	Server         string     `json:"server"`
	Version        string     `json:"version"`
	PID            int        `json:"pid"`
	StartedAt      time.Time  `json:"startedAt"`
	LastCheckIn    *time.Time `json:"lastCheckIn,omitempty"`
	NextCheckIn    *time.Time `json:"nextCheckIn,omitempty"`
	HeartbeatUntil *time.Time `json:"heartbeatUntil,omitempty"`
	LastError      string     `json:"lastError,omitempty"`
	LastErrorAt    *time.Time `json:"lastErrorAt,omitempty"`
	PendingReports int        `json:"pendingReports"`
	DroppedReports uint64     `json:"droppedReports"`
	FactsHash      string     `json:"factsHash,omitempty"`
}

// ReadState reads the state the running (or last) daemon wrote.
func ReadState(stateDir string) (State, error) {
	var s State
	data, err := os.ReadFile(filepath.Join(stateDir, stateFile))
	if err != nil {
		return s, fmt.Errorf("reading agent state: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("agent state %s is not valid JSON: %w", filepath.Join(stateDir, stateFile), err)
	}
	return s, nil
}

// writeState replaces the state file atomically, so status never reads half.
func writeState(stateDir string, s State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding agent state: %w", err)
	}
	return atomicfile.Write(filepath.Join(stateDir, stateFile), data, 0o600)
}
