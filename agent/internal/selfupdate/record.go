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
	// StatePending: Apply staged the new binary at NextPath (or, with no
	// supervisor, swapped it in: see Record.Promoted); the supervisor has
	// not started it yet.
	StatePending State = "Pending"
	// StateTrial: the supervisor started the staged binary and waits (until
	// Deadline) for it to Confirm.
	StateTrial State = "Trial"
	// StateConfirmed: the new binary checked in. The update has succeeded
	// once it is also Promoted; until then the supervisor still has to put
	// it at the executable's path.
	StateConfirmed State = "Confirmed"
	// StateRolledBack: the new binary failed its trial and the supervisor
	// dropped it; the executable's path never stopped holding the old one.
	StateRolledBack State = "RolledBack"
	// StateFailed: the update ended without the new version running and
	// without a rollback (see Reason).
	StateFailed State = "Failed"
)

// Record is the pending-update record: what was staged to replace what,
// for which work, and how it ended. The daemon, the supervisor and the
// next daemon all read and write it; it is the update's memory across
// restarts.
type Record struct {
	WorkID      string `json:"workID"`
	AgentUpdate string `json:"agentUpdate"`
	FromVersion string `json:"fromVersion"`
	ToVersion   string `json:"toVersion"`
	// Executable is the canonical path the update replaces; SHA256 the
	// new binary's hash, by which the supervisor knows which binary is at
	// that path and at NextPath.
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
	// Promoted says the new binary is at Executable: the supervisor renamed
	// it there after it confirmed, or Apply swapped it in at once because
	// no supervisor runs the daemon (Options.InPlace). Confirmed and
	// Promoted together are success.
	Promoted bool `json:"promoted,omitempty"`
	// Reason and Message explain a rollback or failure.
	Reason   string     `json:"reason,omitempty"`
	Message  string     `json:"message,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	// Reported is set by Reported once the outcome is queued for delivery.
	Reported bool `json:"reported,omitempty"`
}

// finished reports whether the update is over: rolled back, failed, or
// confirmed and at the executable's path. A confirmed update that is not
// promoted yet is still in flight: Succeeded must never be reported while
// the executable's path holds the old binary.
func (r *Record) finished() bool {
	switch r.State {
	case StateRolledBack, StateFailed:
		return true
	case StateConfirmed:
		return r.Promoted
	}
	return false
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
