package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/redflag-io/redflag/internal/atomicfile"
	"github.com/redflag-io/redflag/internal/protocol"
)

// workFile records rollout work on disk: the piece in progress and the IDs
// already finished. An agent killed mid-install finds the piece still
// "running" here, does not count it as done, and so runs it again when the
// gateway offers it again (redoing an install is harmless) and reports the
// result then.
const workFile = "work.json"

// finishedKept bounds the finished IDs remembered.
const finishedKept = 32

type workState struct {
	Current  *protocol.WorkResult `json:"current,omitempty"`
	Finished []string             `json:"finished,omitempty"`
}

func readWorkState(stateDir string) (workState, error) {
	var ws workState
	data, err := os.ReadFile(filepath.Join(stateDir, workFile))
	if errors.Is(err, os.ErrNotExist) {
		return ws, nil
	}
	if err != nil {
		return ws, fmt.Errorf("reading work state: %w", err)
	}
	if err := json.Unmarshal(data, &ws); err != nil {
		// A damaged record loses only the memory of finished IDs: the
		// gateway stops offering work whose result it stored, so at worst
		// an unreported piece runs again.
		return workState{}, fmt.Errorf("work state %s is damaged (%w); starting afresh", filepath.Join(stateDir, workFile), err)
	}
	return ws, nil
}

func (ws *workState) done(id string) bool { return slices.Contains(ws.Finished, id) }

func (ws *workState) finish(id string) {
	ws.Finished = append(slices.DeleteFunc(ws.Finished, func(s string) bool { return s == id }), id)
	if len(ws.Finished) > finishedKept {
		ws.Finished = ws.Finished[len(ws.Finished)-finishedKept:]
	}
}

func writeWorkState(stateDir string, ws workState) error {
	data, err := json.MarshalIndent(ws, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding work state: %w", err)
	}
	return atomicfile.Write(filepath.Join(stateDir, workFile), data, 0o600)
}
