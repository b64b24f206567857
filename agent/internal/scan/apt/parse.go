package apt

import (
	"fmt"
	"io"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// upgradableFrom opens the bracketed tail of an upgradable line (C locale).
const upgradableFrom = "[upgradable from: "

// Parse reads the standard output (or combined output) of
// `apt list --upgradable` and returns one PendingUpdate per package name,
// in the order apt printed them. The "Listing..." header, apt's WARNING
// about its unstable CLI and N:/W: notices are skipped. Multi-arch twins
// (libc6 amd64 and i386) collapse into one entry.
//
// Lines that look like entries but cannot be read are reported in an error
// wrapping scan.ErrMalformed; the updates that could be read are returned
// with it. A read failure is returned wrapped.
func Parse(r io.Reader) ([]protocol.PendingUpdate, error) {
	var (
		list     scan.List
		problems scan.Problems
	)
	err := scan.Lines(r, func(n int, line string) error {
		line = strings.TrimSpace(line)
		if skip(line) {
			return nil
		}
		u, reason := parseLine(line)
		if reason != "" {
			problems.Add(n, line, reason)
			return nil
		}
		list.Add(u)
		return nil
	})
	if err != nil {
		return list.Items(), fmt.Errorf("apt list output: %w", err)
	}
	if err := problems.Err(); err != nil {
		return list.Items(), fmt.Errorf("apt list output: %w", err)
	}
	return list.Items(), nil
}

// skip reports whether line is known noise rather than an entry.
func skip(line string) bool {
	switch {
	case line == "",
		strings.HasPrefix(line, "Listing..."),
		strings.HasPrefix(line, "WARNING: "),
		strings.HasPrefix(line, "N: "),
		strings.HasPrefix(line, "W: "):
		return true
	}
	return false
}

// parseLine reads one entry line:
//
//	name/archive[,archive...] version arch [upgradable from: version]
//
// It returns a non-empty reason when the line is not of that form.
func parseLine(line string) (protocol.PendingUpdate, string) {
	head, from, ok := strings.Cut(line, upgradableFrom)
	if !ok {
		return protocol.PendingUpdate{}, "no \"[upgradable from:\" part"
	}
	current, ok := strings.CutSuffix(from, "]")
	if !ok || current == "" || strings.ContainsAny(current, " \t]") {
		return protocol.PendingUpdate{}, "bad installed version"
	}
	fields := strings.Fields(head)
	if len(fields) != 3 {
		return protocol.PendingUpdate{}, "want name/archive, version and architecture"
	}
	name, archives, ok := strings.Cut(fields[0], "/")
	if !ok || name == "" {
		return protocol.PendingUpdate{}, "no name/archive"
	}
	return protocol.PendingUpdate{
		Manager:          protocol.ManagerApt,
		Name:             name,
		CurrentVersion:   current,
		AvailableVersion: fields[1],
		Security:         isSecurity(archives),
		Source:           archives,
	}, ""
}

// isSecurity reports whether any archive of the comma-separated list is a
// security pocket.
func isSecurity(archives string) bool {
	for a := range strings.SplitSeq(archives, ",") {
		if strings.HasSuffix(a, "-security") {
			return true
		}
	}
	return false
}
