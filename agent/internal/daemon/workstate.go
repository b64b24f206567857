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

// workFile records rollout work on disk: the piece in progress, the
// versions its packages had before it started changing them, and the IDs
// already finished. An agent killed mid-install finds the piece still
// "running" here, does not count it as done, and so runs it again when the
// gateway offers it again (redoing an install is harmless) and reports the
// result then, with the versions from before the first attempt.
const workFile = "work.json"

// finishedKept bounds the finished IDs remembered.
const finishedKept = 32

// beforeKept bounds the versions remembered for one piece of work: a
// full distribution upgrade is a few hundred packages, and the file is
// rewritten at every step of the work.
const beforeKept = 2000

type workState struct {
	Current  *protocol.WorkResult `json:"current,omitempty"`
	Finished []string             `json:"finished,omitempty"`
	// Before are the versions the packages of the work in progress had
	// before its first attempt changed anything. A redo after the agent
	// was killed mid-install plans from a host already partly upgraded;
	// its report takes the versions before from here, so it shows what
	// the work changed, not "upgraded from X to X".
	Before *beforeVersions `json:"before,omitempty"`
}

// beforeVersions are one piece of work's versions before.
type beforeVersions struct {
	// ID is the work they belong to.
	ID string `json:"id"`
	// Packages hold the manager, name and version before (From) of each
	// package the work planned to change; From is empty for a package
	// that was not installed.
	Packages []protocol.PackageChange `json:"packages"`
}

// remember records the versions before of planned changes for work id,
// keeping what an earlier attempt recorded: the first attempt saw the
// host as it was. It reports whether anything was added.
func (ws *workState) remember(id string, planned []protocol.PackageChange) bool {
	if ws.Before == nil || ws.Before.ID != id {
		ws.Before = &beforeVersions{ID: id}
	}
	known := make(map[packageKey]bool, len(ws.Before.Packages))
	for _, p := range ws.Before.Packages {
		known[keyOf(p)] = true
	}
	added := false
	for _, c := range planned {
		if known[keyOf(c)] || len(ws.Before.Packages) >= beforeKept {
			continue
		}
		known[keyOf(c)] = true
		ws.Before.Packages = append(ws.Before.Packages, protocol.PackageChange{Manager: c.Manager, Name: c.Name, From: c.From})
		added = true
	}
	return added
}

// withBefore returns changes with each From replaced by the version
// recorded before the first attempt of work id, where there is one.
func (ws *workState) withBefore(id string, changes []protocol.PackageChange) []protocol.PackageChange {
	if ws.Before == nil || ws.Before.ID != id || len(changes) == 0 {
		return changes
	}
	from := make(map[packageKey]string, len(ws.Before.Packages))
	for _, p := range ws.Before.Packages {
		from[keyOf(p)] = p.From
	}
	out := slices.Clone(changes)
	for i, c := range out {
		if f, ok := from[keyOf(c)]; ok {
			out[i].From = f
		}
	}
	return out
}

type packageKey struct {
	manager protocol.PackageManager
	name    string
}

func keyOf(c protocol.PackageChange) packageKey { return packageKey{c.Manager, c.Name} }

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
