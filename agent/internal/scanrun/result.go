package scanrun

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redflag-io/redflag/api/v1alpha1"
)

// Result is one subsystem's run.
type Result struct {
	Subsystem Subsystem `json:"subsystem"`
	// Status is the run rolled up for the Agent's status.subsystems.
	Status v1alpha1.SubsystemStatus `json:"status"`
	// Outcomes has one entry per source, in registration order.
	Outcomes []Outcome `json:"outcomes"`
	// Updates is the merged inventory of subsystem updates.
	Updates *v1alpha1.UpdateInventory `json:"updates,omitempty"`
	// Docker is the engine's containers and images, for subsystem docker.
	Docker *v1alpha1.DockerInventory `json:"docker,omitempty"`
	// Hostname, OS and System are set for subsystem system.
	Hostname string                `json:"hostname,omitempty"`
	OS       *v1alpha1.OSInfo      `json:"os,omitempty"`
	System   *v1alpha1.SystemFacts `json:"system,omitempty"`
	// Storage is set for subsystem storage.
	Storage []v1alpha1.MountStatus `json:"storage,omitempty"`
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
			if o.Result == v1alpha1.RunSucceeded {
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
func rollup(sub Subsystem, outs []Outcome, at time.Time) v1alpha1.SubsystemStatus {
	st := v1alpha1.SubsystemStatus{Name: string(sub), Result: v1alpha1.RunSkipped}
	t := metav1.NewTime(at)
	st.LastRun = &t
	rank := map[v1alpha1.RunResult]int{
		v1alpha1.RunSkipped: 0, v1alpha1.RunSucceeded: 1, v1alpha1.RunTimedOut: 2, v1alpha1.RunFailed: 3,
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
