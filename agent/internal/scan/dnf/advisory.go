package dnf

import (
	"fmt"
	"io"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// Advisory is one (advisory, package) line of `dnf updateinfo list`.
type Advisory struct {
	// ID is the advisory name, such as RHSA-2024:1234.
	ID string
	// Severity is Critical, Important, Moderate, Low or empty.
	Severity string
	// Security is true for a security advisory.
	Security bool
	// Name, EVR and Arch identify the fixed package.
	Name, EVR, Arch string
}

// ParseAdvisories reads `dnf updateinfo list [--security]` output in
// either form:
//
//	dnf4: RHSA-2024:1234 Important/Sec.  openssl-1:3.0.7-27.el9.x86_64
//	dnf5: RHSA-2024:1234 security Important openssl-1:3.0.7-27.el9.x86_64 2024-05-14 08:15:42
//
// The package is the line's last field that parses as a NEVRA; the line is
// a security advisory when a field ends in "/Sec." (dnf4) or is "security"
// (dnf5). Lines with no NEVRA (headers, prose) are skipped, so only a read
// failure is an error. dnf5 leaves the
// severity cell blank when it is unknown, which the field-based reading
// tolerates.
func ParseAdvisories(r io.Reader) ([]Advisory, error) {
	var out []Advisory
	err := scan.Lines(r, func(_ int, line string) error {
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(line, "Security: ") {
			return nil
		}
		pkg := -1
		for i := len(fields) - 1; i > 0; i-- {
			if _, _, _, ok := parseNEVRA(fields[i]); ok {
				pkg = i
				break
			}
		}
		if pkg < 0 {
			return nil
		}
		a := Advisory{ID: fields[0]}
		a.Name, a.EVR, a.Arch, _ = parseNEVRA(fields[pkg])
		for _, f := range fields[1:pkg] {
			switch sev, ok := strings.CutSuffix(f, "/Sec."); {
			case ok:
				a.Security = true
				if sev != "Unknown" && sev != "None" {
					a.Severity = sev
				}
			case strings.EqualFold(f, "security"):
				a.Security = true
			case isSeverity(f):
				a.Severity = f
			}
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("dnf updateinfo output: %w", err)
	}
	return out, nil
}

func isSeverity(s string) bool {
	switch s {
	case "Critical", "Important", "Moderate", "Low":
		return true
	}
	return false
}
