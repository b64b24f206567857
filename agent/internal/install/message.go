package install

import (
	"fmt"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// wording is how a message speaks of one manager's changes.
type wording struct {
	noun, nouns     string
	did, wouldDo    string // for updates of what is installed
	added, wouldAdd string // for new packages
}

var packageWords = wording{"package", "packages", "upgraded", "would upgrade", "installed", "would install"}

var wordings = map[protocol.PackageManager]wording{
	protocol.ManagerDocker:        {"image", "images", "updated", "would update", "pulled", "would pull"},
	protocol.ManagerWindowsUpdate: {"update", "updates", "installed", "would install", "installed", "would install"},
}

func wordsFor(m protocol.PackageManager) wording {
	if w, ok := wordings[m]; ok {
		return w
	}
	return packageWords
}

func count(n int, w wording) string {
	if n == 1 {
		return "1 " + w.noun
	}
	return fmt.Sprintf("%d %s", n, w.nouns)
}

// describe is one manager's part of a message: "upgraded 2 packages and
// installed 1 new package with apt (note, note)".
func describe(m protocol.PackageManager, changes []installer.Change, notes []string, dry bool) string {
	w := wordsFor(m)
	updated, added := 0, 0
	for _, c := range changes {
		if c.Kind == installer.Install {
			added++
		} else {
			updated++
		}
	}
	did, add := w.did, w.added
	if dry {
		did, add = w.wouldDo, w.wouldAdd
	}
	var parts []string
	if updated > 0 {
		parts = append(parts, did+" "+count(updated, w))
	}
	if added > 0 {
		parts = append(parts, add+" "+strings.Replace(count(added, w), " ", " new ", 1))
	}
	s := "nothing to change"
	if len(parts) > 0 {
		s = strings.Join(parts, " and ")
	}
	s += " with " + string(m)
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

// toAPI turns changes into the API's bounded PackageChange.
func toAPI(m protocol.PackageManager, cs []installer.Change) []protocol.PackageChange {
	out := make([]protocol.PackageChange, 0, len(cs))
	for _, c := range cs {
		out = append(out, protocol.PackageChange{
			Manager: m,
			Name:    scan.Clean(c.Name, scan.MaxNameLen),
			From:    scan.Clean(c.From, scan.MaxVersionLen),
			To:      scan.Clean(c.To, scan.MaxVersionLen),
		})
	}
	return out
}

// clip bounds a message for the Agent's status, on one line.
func clip(msg string) string {
	return scan.Clean(strings.ReplaceAll(msg, "\n", "; "), MaxMessageLen)
}
