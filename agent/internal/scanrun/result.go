package scanrun

import (
	"strings"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// SubsystemStatus is a run rolled up as the Agent's status.subsystems
// holds it, with the API type's JSON (the one `redflag-agent scan` always
// printed); the gateway builds the status entry itself from the scan report.
type SubsystemStatus struct {
	// Name of the subsystem: updates, storage, system or docker.
	Name string `json:"name"`
	// LastRun is when it last finished.
	LastRun *protocol.Time `json:"lastRun,omitempty"`
	// Result of that run.
	Result protocol.RunResult `json:"result,omitempty"`
	// Message explains a failure, at most maxMessage bytes.
	Message string `json:"message,omitempty"`
}

// Result is one subsystem's run.
type Result struct {
	Subsystem Subsystem `json:"subsystem"`
	// Status is the run rolled up for the Agent's status.subsystems.
	Status SubsystemStatus `json:"status"`
	// Outcomes has one entry per source, in registration order.
	Outcomes []Outcome `json:"outcomes"`
	// Updates is the merged inventory of subsystem updates.
	Updates *protocol.UpdateInventory `json:"updates,omitempty"`
	// Docker is the engine's containers and images, for subsystem docker.
	Docker *protocol.DockerInventory `json:"docker,omitempty"`
	// Hostname, OS and System are set for subsystem system.
	Hostname string                `json:"hostname,omitempty"`
	OS       *protocol.OSInfo      `json:"os,omitempty"`
	System   *protocol.SystemFacts `json:"system,omitempty"`
	// Storage is set for subsystem storage.
	Storage []protocol.MountStatus `json:"storage,omitempty"`
	// Hash covers the payload (Updates, Docker, or the facts) but no time or
	// outcome: equal hashes mean the status fields it feeds are unchanged.
	// For storage it is taken over used space rounded to a percent of each
	// mount, so a growing log file alone does not change it. Status
	// changes (a manager starting to fail) are the caller's to compare.
	Hash string `json:"hash,omitempty"`
}

// Report is the results of one Run, in the order asked for.
type Report struct {
	Results []Result `json:"results"`
}

// AllFailed is true when at least one source is present and none of the
// present ones succeeded: the scan produced nothing fresh at all. A host
// with no package manager at all has not failed.
func (r Report) AllFailed() bool {
	present := 0
	for _, res := range r.Results {
		for _, o := range res.Outcomes {
			if !o.Present {
				continue
			}
			present++
			if o.Result == protocol.RunSucceeded {
				return false
			}
		}
	}
	return present > 0
}

// rollup sums a subsystem's outcomes into one status: Failed beats
// TimedOut beats Succeeded beats Skipped, so a manager that broke shows
// even when another one worked. The message names every present source
// with something to say.
func rollup(sub Subsystem, outs []Outcome, at time.Time) SubsystemStatus {
	st := SubsystemStatus{Name: string(sub), Result: protocol.RunSkipped}
	t := protocol.NewTime(at)
	st.LastRun = &t
	rank := map[protocol.RunResult]int{
		protocol.RunSkipped: 0, protocol.RunSucceeded: 1, protocol.RunTimedOut: 2, protocol.RunFailed: 3,
	}
	var notes []string
	present := 0
	for _, o := range outs {
		if !o.Present {
			continue
		}
		present++
		if rank[o.Result] > rank[st.Result] {
			st.Result = o.Result
		}
		if o.Message != "" {
			notes = append(notes, o.Name+": "+o.Message)
		}
	}
	if present == 0 {
		notes = append(notes, "nothing to scan: no "+string(sub)+" source is present on this host")
	}
	st.Message = clipMessage(strings.Join(notes, "; "))
	return st
}
