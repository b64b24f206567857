package winget

import (
	"fmt"
	"io"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Column order of the upgrade table; Source is absent when no package has
// one.
const (
	colName = iota
	colID
	colVersion
	colAvailable
	colSource
)

// measures are tried in order: current winget, then older releases.
var measures = []measure{cellWidth, charWidth}

// table is one upgrade table's column layout, per measure.
type table struct {
	starts [][]int // starts[m][col] is the first cell of col under measures[m]
}

// ParseTable reads the output of `winget upgrade` (or
// `winget list --upgrade-available`) and returns one PendingUpdate per
// package Id, from every table in the output. Spinner and progress residue
// (carriage-return overwrites, VT escape sequences) is removed first.
// Lines inside a table that are not rows (the "N upgrades available."
// summary, notes about pinned or unknown-version packages) are skipped.
//
// A header that cannot be a winget upgrade table (fewer than four or more
// than five columns) is reported in an error wrapping scan.ErrMalformed,
// returned with the updates from the other tables.
func ParseTable(r io.Reader) ([]protocol.PendingUpdate, error) {
	var lines []string
	if err := scan.Lines(r, func(_ int, line string) error {
		lines = append(lines, screen(line))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("winget upgrade output: %w", err)
	}
	var (
		list     scan.List
		problems scan.Problems
		cur      *table
	)
	for i := 0; i < len(lines); i++ {
		if i+1 < len(lines) && isRule(lines[i+1]) {
			t, reason := newTable(lines[i])
			if reason != "" {
				problems.Add(i+1, lines[i], reason)
			}
			cur = t
			i++ // the rule
			continue
		}
		if cur == nil {
			continue
		}
		if u, ok := cur.row(lines[i]); ok {
			list.Add(u)
		}
	}
	if err := problems.Err(); err != nil {
		return list.Items(), fmt.Errorf("winget upgrade output: %w", err)
	}
	return list.Items(), nil
}

// isRule matches the dashed line under a header.
func isRule(line string) bool {
	line = strings.TrimRight(line, " ")
	return len(line) >= 8 && strings.Trim(line, "-") == ""
}

// newTable locates the columns of a header line.
func newTable(header string) (*table, string) {
	t := &table{}
	for _, m := range measures {
		var starts []int
		prevSpace := true
		for _, c := range layout(header, m) {
			space := strings.TrimSpace(c.text) == ""
			if !space && prevSpace {
				starts = append(starts, c.pos)
			}
			prevSpace = space
		}
		if len(starts) != 4 && len(starts) != 5 {
			return nil, fmt.Sprintf("header has %d columns, want 4 or 5", len(starts))
		}
		t.starts = append(t.starts, starts)
	}
	return t, ""
}

// row reads line as a table row under the first measure it fits.
func (t *table) row(line string) (protocol.PendingUpdate, bool) {
	if strings.TrimSpace(line) == "" {
		return protocol.PendingUpdate{}, false
	}
	for i, m := range measures {
		f, ok := split(line, m, t.starts[i])
		if !ok {
			continue
		}
		if f[colName] == "" || f[colID] == "" || f[colVersion] == "" || f[colAvailable] == "" ||
			strings.ContainsAny(f[colID], " \t") || strings.ContainsAny(f[colAvailable], " \t") {
			continue
		}
		u := protocol.PendingUpdate{
			Manager:          protocol.ManagerWinget,
			Name:             f[colID],
			CurrentVersion:   f[colVersion],
			AvailableVersion: f[colAvailable],
		}
		if len(f) > colSource {
			u.Source = f[colSource]
		}
		return u, true
	}
	return protocol.PendingUpdate{}, false
}

// split cuts line into the columns starting at starts, as placed by m. It
// fails when a column boundary is not preceded by a space or a wide
// character straddles it: the line is not laid out on these columns.
func split(line string, m measure, starts []int) ([]string, bool) {
	fields := make([]strings.Builder, len(starts))
	col := 0
	for _, c := range layout(line, m) {
		for col+1 < len(starts) && c.pos >= starts[col+1] {
			col++
		}
		end := c.pos + c.width
		if col+1 < len(starts) {
			next := starts[col+1]
			if end > next || end == next && c.text != " " {
				return nil, false
			}
		}
		fields[col].WriteString(c.text)
	}
	out := make([]string, len(fields))
	for i := range fields {
		out[i] = strings.TrimSpace(fields[i].String())
	}
	return out, true
}

// screen returns what a terminal would show of line: the text after the
// last carriage return (spinner frames overwrite each other), without VT
// escape sequences or other control characters.
func screen(line string) string {
	if i := strings.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	if !strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return line
	}
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == 0x1b:
			i = skipEscape(line, i)
		case c == '\t':
			b.WriteByte(' ')
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// skipEscape returns the index of the last byte of the escape sequence
// starting at line[i] (ESC): CSI "ESC [ ... final", OSC "ESC ] ... BEL or
// ESC \", or a two-byte escape.
func skipEscape(line string, i int) int {
	if i+1 >= len(line) {
		return i
	}
	switch line[i+1] {
	case '[':
		for j := i + 2; j < len(line); j++ {
			if line[j] >= 0x40 && line[j] <= 0x7e {
				return j
			}
		}
		return len(line) - 1
	case ']':
		for j := i + 2; j < len(line); j++ {
			if line[j] == 0x07 {
				return j
			}
			if line[j] == 0x1b && j+1 < len(line) && line[j+1] == '\\' {
				return j + 1
			}
		}
		return len(line) - 1
	default:
		return i + 1
	}
}
