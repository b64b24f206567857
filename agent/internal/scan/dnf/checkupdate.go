package dnf

import (
	"fmt"
	"io"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// Upgrade is one package line of `dnf check-update`.
type Upgrade struct {
	Name string
	Arch string
	// EVR is the candidate "[epoch:]version-release".
	EVR string
	// Repo is the repository id offering it.
	Repo string
	// Obsoleting marks an entry of the "Obsoleting Packages" section: a
	// package that replaces installed packages of another name.
	Obsoleting bool
}

// pending is an entry whose fields dnf4 wrapped onto following lines.
type pending struct {
	line   int
	text   string
	fields []string
}

// ParseCheckUpdate reads the standard output of `dnf check-update` (dnf4)
// or `dnf check-upgrade` (dnf5, also answering to check-update). Prose
// around the table ("Last metadata expiration check", subscription-manager
// and repository-loading messages, "Security: kernel... is the currently
// running version") is skipped. Entries wrapped over several lines are
// joined; the installed packages listed under an obsoleting entry are
// skipped.
//
// Entry lines that cannot be read are reported in an error wrapping
// scan.ErrMalformed, returned together with the upgrades that could be
// read.
func ParseCheckUpdate(r io.Reader) ([]Upgrade, error) {
	var (
		out        []Upgrade
		problems   scan.Problems
		cur        *pending
		obsoleting bool
	)
	flush := func() {
		if cur == nil {
			return
		}
		if u, reason := upgradeFrom(cur.fields, obsoleting); reason != "" {
			problems.Add(cur.line, cur.text, reason)
		} else {
			out = append(out, u)
		}
		cur = nil
	}
	err := scan.Lines(r, func(n int, line string) error {
		fields := strings.Fields(line)
		indented := len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
		switch {
		case len(fields) == 0:
			flush()
			return nil
		case cur != nil && indented:
			// The continuation of a wrapped entry.
			cur.fields = append(cur.fields, fields...)
			cur.text += " " + strings.TrimSpace(line)
			if len(cur.fields) >= 3 {
				flush()
			}
			return nil
		}
		flush()
		if isObsoletingHeading(line) {
			obsoleting = true
			return nil
		}
		if _, _, ok := splitNA(fields[0]); !ok {
			return nil // prose, not a package line
		}
		if obsoleting && indented {
			return nil // an installed package being obsoleted
		}
		cur = &pending{line: n, text: strings.TrimSpace(line), fields: fields}
		if len(fields) >= 3 {
			flush()
		}
		return nil
	})
	flush()
	if err != nil {
		return out, fmt.Errorf("dnf check-update output: %w", err)
	}
	if err := problems.Err(); err != nil {
		return out, fmt.Errorf("dnf check-update output: %w", err)
	}
	return out, nil
}

// isObsoletingHeading matches dnf4's "Obsoleting Packages" and dnf5's
// "Obsoleting packages".
func isObsoletingHeading(line string) bool {
	return strings.EqualFold(strings.TrimSpace(line), "Obsoleting Packages")
}

// upgradeFrom builds an Upgrade from an entry's fields, or says why not.
func upgradeFrom(fields []string, obsoleting bool) (Upgrade, string) {
	if len(fields) != 3 {
		return Upgrade{}, fmt.Sprintf("want name.arch, version and repository, got %d fields", len(fields))
	}
	name, arch, _ := splitNA(fields[0])
	if !validEVR(fields[1]) {
		return Upgrade{}, "bad version-release"
	}
	return Upgrade{Name: name, Arch: arch, EVR: fields[1], Repo: fields[2], Obsoleting: obsoleting}, ""
}
