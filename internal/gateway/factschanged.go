package gateway

import (
	"fmt"
	"strings"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

// changedFacts compares the facts FactsChanged is about (OS release,
// kernel, architecture). A value unknown before (empty: a new Agent whose
// first report fills it) or after (a host that could not read it) is not a
// change.
func changedFacts(before, after redflagv1.OSInfo) []string {
	var changed []string
	for _, f := range []struct{ name, old, new string }{
		{"OS", before.PrettyName, after.PrettyName},
		{"kernel", before.Kernel, after.Kernel},
		{"architecture", before.Arch, after.Arch},
	} {
		if f.old != "" && f.new != "" && f.old != f.new {
			changed = append(changed, fmt.Sprintf("%s %s -> %s", f.name, f.old, f.new))
		}
	}
	return changed
}

// factsChanged is the FactsChanged entry for OS facts going from before
// to after, nil when nothing it is about changed.
func (g *Gateway) factsChanged(before, after redflagv1.OSInfo) *redflagv1.HistoryEntry {
	changed := changedFacts(before, after)
	if len(changed) == 0 {
		return nil
	}
	e := g.recorder.Entry(events.FactsChanged, strings.Join(changed, "; "), map[string]string{
		"oldOS": before.PrettyName, "newOS": after.PrettyName,
		"oldKernel": before.Kernel, "newKernel": after.Kernel,
		"oldArch": before.Arch, "newArch": after.Arch,
	})
	return &e
}
