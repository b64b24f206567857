package apt

import (
	"fmt"
	"io"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
)

// ParseSimulation reads the standard output of `apt-get -s` and returns
// one Change per package apt would install, upgrade or remove, in apt's
// order. "Conf" lines and prose are skipped. A line starting with Inst,
// Remv or Purg that cannot be read is reported in an error wrapping
// scan.ErrMalformed, returned with the changes that could be read: a
// plan must not be trusted with a line it did not understand.
func ParseSimulation(r io.Reader) ([]installer.Change, error) {
	var (
		out      []installer.Change
		problems scan.Problems
	)
	err := scan.Lines(r, func(n int, line string) error {
		verb, rest, _ := strings.Cut(line, " ")
		var (
			c      installer.Change
			reason string
		)
		switch verb {
		case "Inst":
			c, reason = parseInst(rest)
		case "Remv", "Purg":
			c, reason = parseRemv(rest)
		default:
			return nil
		}
		if reason != "" {
			problems.Add(n, line, reason)
			return nil
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("apt-get simulation: %w", err)
	}
	if err := problems.Err(); err != nil {
		return out, fmt.Errorf("apt-get simulation: %w", err)
	}
	return out, nil
}

// parseInst reads "name [old] (new release [arch]) [broken]" where the
// old version is absent for a new package.
func parseInst(s string) (installer.Change, string) {
	name, rest, ok := strings.Cut(s, " ")
	if !ok || !validName(name) {
		return installer.Change{}, "no package name"
	}
	old, rest, reason := bracketed(rest)
	if reason != "" {
		return installer.Change{}, reason
	}
	inner, ok := strings.CutPrefix(rest, "(")
	if !ok {
		return installer.Change{}, "no (candidate version"
	}
	fields := strings.Fields(inner)
	if len(fields) == 0 || !validVersion(strings.TrimSuffix(fields[0], ")")) {
		return installer.Change{}, "bad candidate version"
	}
	c := installer.Change{Name: name, Key: baseName(name), From: old, To: strings.TrimSuffix(fields[0], ")"), Kind: installer.Upgrade}
	if old == "" {
		c.Kind = installer.Install
	}
	return c, ""
}

// parseRemv reads "name [old]" (the version may be missing).
func parseRemv(s string) (installer.Change, string) {
	name, rest, _ := strings.Cut(s, " ")
	if !validName(name) {
		return installer.Change{}, "no package name"
	}
	old, _, reason := bracketed(rest)
	if reason != "" {
		return installer.Change{}, reason
	}
	return installer.Change{Name: name, Key: baseName(name), From: old, Kind: installer.Remove}, ""
}

// bracketed reads an optional leading "[version]" of s and returns it
// with the rest of s.
func bracketed(s string) (version, rest string, reason string) {
	s = strings.TrimLeft(s, " ")
	inner, ok := strings.CutPrefix(s, "[")
	if !ok {
		return "", s, ""
	}
	version, rest, ok = strings.Cut(inner, "]")
	if !ok || !validVersion(version) {
		return "", "", "bad installed version"
	}
	return version, strings.TrimLeft(rest, " "), ""
}

// baseName drops the ":arch" qualifier apt adds to foreign-architecture
// packages; the scanner lists them under the bare name.
func baseName(name string) string {
	base, _, _ := strings.Cut(name, ":")
	return base
}

// validName accepts a dpkg package name (it starts with a letter or
// digit, so it can never be taken for an option) with an optional
// ":arch" qualifier.
func validName(s string) bool {
	base, arch, qualified := strings.Cut(s, ":")
	if base == "" || !isAlnum(base[0]) || qualified && arch == "" {
		return false
	}
	for i := 0; i < len(base); i++ {
		if !isAlnum(base[i]) && strings.IndexByte("+-._", base[i]) < 0 {
			return false
		}
	}
	for i := 0; i < len(arch); i++ {
		if !isAlnum(arch[i]) && arch[i] != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validVersion accepts a Debian version: no space, no brackets.
func validVersion(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t[]()")
}
