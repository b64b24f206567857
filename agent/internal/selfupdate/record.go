package selfupdate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redflag-io/redflag/internal/atomicfile"
	"github.com/redflag-io/redflag/internal/protocol"
)

// RecordFile is the pending-update record's name in the state directory.
const RecordFile = "selfupdate.json"

// State is where an update stands.
type State string

// States of a record, in the order an update goes through them.
const (
	// StatePending: Apply swapped the binaries; the new one has not run
	// under the supervisor yet.
	StatePending State = "Pending"
	// StateTrial: the supervisor started the new binary and waits (until
	// Deadline) for it to Confirm.
	StateTrial State = "Trial"
	// StateConfirmed: the new binary checked in; it stays.
	StateConfirmed State = "Confirmed"
	// StateRolledBack: the supervisor put the previous binary back.
	StateRolledBack State = "RolledBack"
	// StateFailed: the update ended without the new version running and
	// without a rollback (see Reason).
	StateFailed State = "Failed"
)

// finished reports whether the state is an end state.
func (s State) finished() bool {
	return s == StateConfirmed || s == StateRolledBack || s == StateFailed
}

// Record is the pending-update record: what was swapped for what, for
// which work, and how it ended. The daemon, the supervisor and the next
// daemon all read and write it; it is the update's memory across restarts.
type Record struct {
	WorkID      string `json:"workID"`
	AgentUpdate string `json:"agentUpdate"`
	FromVersion string `json:"fromVersion"`
	ToVersion   string `json:"toVersion"`
	// Executable is the path that was swapped; SHA256 the new binary's
	// hash, by which the supervisor knows which binary is at that path.
	Executable string `json:"executable"`
	SHA256     string `json:"sha256"`
	// Started is when Apply began.
	Started time.Time `json:"started"`
	// ConfirmWithin is how long the new binary has to Confirm; Deadline
	// is when its current trial ends (set again at each trial start).
	ConfirmWithin protocol.Duration `json:"confirmWithin"`
	Deadline      time.Time         `json:"deadline"`
	// TrialAttempts counts trials started; a trial cut short by a restart
	// of the supervisor (reboot, service restart) is retried a few times.
	TrialAttempts int   `json:"trialAttempts,omitempty"`
	State         State `json:"state"`
	// Reason and Message explain a rollback or failure.
	Reason   string     `json:"reason,omitempty"`
	Message  string     `json:"message,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	// Reported is set by Reported once the outcome is queued for delivery.
	Reported bool `json:"reported,omitempty"`
}

// ReadRecord reads the record in stateDir; nil, nil when there is none.
func ReadRecord(stateDir string) (*Record, error) {
	path := filepath.Join(stateDir, RecordFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the self-update record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("self-update record %s is damaged: %w", path, err)
	}
	return &r, nil
}

// writeRecord replaces the record atomically: a crash leaves the old or
// the new decision, never neither.
func writeRecord(stateDir string, r *Record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the self-update record: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(stateDir, RecordFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the self-update record: %w", err)
	}
	return nil
}

// finish ends the record in state with reason and message.
func (r *Record) finish(state State, reason, message string, now time.Time) {
	t := now.UTC()
	r.State, r.Reason, r.Message, r.Finished = state, reason, message, &t
}
