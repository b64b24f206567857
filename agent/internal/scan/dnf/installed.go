package dnf

import (
	"fmt"
	"io"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// InstalledQueryFormat is the rpm --queryformat ParseInstalled reads: the
// name.arch and the [epoch:]version-release, epoch printed only when set,
// as dnf prints it.
const InstalledQueryFormat = `%{NAME}.%{ARCH} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n`

// Installed maps "name.arch" to the highest installed "[epoch:]version-release".
type Installed map[string]string

// ParseInstalled reads `rpm -qa --qf InstalledQueryFormat`. Of several
// installed versions (kernels) the highest is kept. Entries without a real
// architecture (gpg-pubkey's "(none)") are skipped.
func ParseInstalled(r io.Reader) (Installed, error) {
	inst := Installed{}
	var problems scan.Problems
	err := scan.Lines(r, func(n int, line string) error {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasSuffix(fields[0], ".(none)") {
			return nil
		}
		if len(fields) != 2 || !validEVR(fields[1]) {
			problems.Add(n, line, "want name.arch and version-release")
			return nil
		}
		if _, _, ok := splitNA(fields[0]); !ok {
			problems.Add(n, line, "bad name.arch")
			return nil
		}
		evr := strings.TrimPrefix(fields[1], "0:")
		if old, ok := inst[fields[0]]; !ok || compareEVR(evr, old) > 0 {
			inst[fields[0]] = evr
		}
		return nil
	})
	if err != nil {
		return inst, fmt.Errorf("rpm query output: %w", err)
	}
	if err := problems.Err(); err != nil {
		return inst, fmt.Errorf("rpm query output: %w", err)
	}
	return inst, nil
}

// version returns the installed version of name.arch, falling back to any
// installed architecture of name (a package that moved to noarch).
func (inst Installed) version(name, arch string) string {
	if v, ok := inst[name+"."+arch]; ok {
		return v
	}
	best := ""
	for na, v := range inst {
		if n, _, ok := splitNA(na); ok && n == name && (best == "" || compareEVR(v, best) > 0) {
			best = v
		}
	}
	return best
}
