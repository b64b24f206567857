package dnf

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
)

// Entry is one package line of a transaction table.
type Entry struct {
	Name, Arch string
	// EVR is "[epoch:]version-release", a zero epoch dropped as rpm
	// prints it.
	EVR  string
	Repo string
	Kind installer.Kind
}

// Transaction is what a dnf dry run would do.
type Transaction struct {
	Entries []Entry
}

// sectionKinds maps the lower-case headings of package sections to the
// kind of change their lines are. Both generations' wordings are listed.
var sectionKinds = map[string]installer.Kind{
	"installing":                       installer.Install,
	"installing dependencies":          installer.Install,
	"installing weak dependencies":     installer.Install,
	"installing group/module packages": installer.Install,
	"upgrading":                        installer.Upgrade,
	"downgrading":                      installer.Downgrade,
	"reinstalling":                     installer.Reinstall,
	"removing":                         installer.Remove,
	"removing dependent packages":      installer.Remove,
	"removing unused dependencies":     installer.Remove,
}

// otherSections are headings whose lines are not package changes:
// packages dnf leaves alone, groups, module streams, reasons.
var otherSections = []string{
	"skipping packages with conflicts",
	"skipping packages with broken dependencies",
	"skipping packages with broken dependencies or part of a group",
	"changing reason",
	"enabling module streams", "switching module streams", "disabling modules",
	"resetting modules", "installing module profiles", "disabling module profiles",
	"installing groups", "upgrading groups", "removing groups", "installing groups dependencies",
	"installing environment groups", "upgrading environment groups", "removing environment groups",
	"installing environmental groups", "upgrading environmental groups", "removing environmental groups",
	"marking packages as installed by the group", "marking packages as removed by the group",
}

// summaryKinds maps the summary's words (dnf4 "Upgrade", dnf5
// "Upgrading:") to kinds; Replacing, Skip and Changing reason count
// lines that are not entries and are not checked.
var summaryKinds = map[string]installer.Kind{
	"install": installer.Install, "installing": installer.Install,
	"upgrade": installer.Upgrade, "upgrading": installer.Upgrade,
	"remove": installer.Remove, "removing": installer.Remove,
	"downgrade": installer.Downgrade, "downgrading": installer.Downgrade,
	"reinstall": installer.Reinstall, "reinstalling": installer.Reinstall,
}

// parser holds the state of one ParseTransaction.
type parser struct {
	tx        Transaction
	problems  scan.Problems
	inTable   bool
	section   string
	kind      installer.Kind // "" outside a package section
	pending   *pending
	summary   map[installer.Kind]int
	inSummary bool
}

// pending is an entry whose fields dnf4 wrapped onto following lines.
type pending struct {
	line   int
	text   string
	fields []string
}

// ParseTransaction reads the standard output of a dnf4 or dnf5 upgrade
// or install run with --assumeno (or the start of a real one). Output of
// "Nothing to do." gives an empty Transaction. Lines that look like
// entries but cannot be read, unknown section headings inside the table,
// a table without a summary and a summary whose counts differ from the
// lines read are reported in an error wrapping scan.ErrMalformed,
// returned with the entries that could be read.
func ParseTransaction(r io.Reader) (Transaction, error) {
	p := &parser{summary: map[installer.Kind]int{}}
	err := scan.Lines(r, func(n int, line string) error {
		p.line(n, line)
		return nil
	})
	p.flush()
	if err != nil {
		return p.tx, fmt.Errorf("dnf transaction: %w", err)
	}
	p.checkSummary()
	if err := p.problems.Err(); err != nil {
		return p.tx, fmt.Errorf("dnf transaction: %w", err)
	}
	return p.tx, nil
}

func (p *parser) line(n int, line string) {
	trimmed := strings.TrimSpace(line)
	fields := strings.Fields(line)
	switch {
	case trimmed == "":
		p.flush()
		return
	case strings.HasPrefix(trimmed, "Transaction Summary"):
		p.flush()
		p.inSummary, p.inTable, p.kind = true, false, ""
		return
	case p.inSummary:
		p.summaryLine(n, fields)
		return
	case len(fields) >= 3 && fields[0] == "Package" && fields[1] == "Arch" && fields[2] == "Version":
		// The column header (dnf4 indents it by one space).
		p.inTable = true
		return
	}
	if line[0] != ' ' && line[0] != '\t' {
		p.flush()
		p.heading(n, trimmed)
		return
	}
	if p.kind == "" {
		return // lines of a non-package section
	}
	if countIndent(line) == 1 {
		p.flush()
		p.pending = &pending{line: n, text: trimmed, fields: fields}
	} else if p.pending != nil {
		// dnf4's continuation of a wrapped line.
		p.pending.fields = append(p.pending.fields, fields...)
		p.pending.text += " " + trimmed
	} else {
		return // "replacing" lines, dnf5's old-version lines
	}
	if len(withoutArrows(p.pending.fields)) >= 4 {
		p.flush()
	}
}

// heading handles a line starting in column 0: a section heading, or
// prose around the table ("Dependencies resolved.", a separator, dnf4's
// "(add '--best' to command line ...)").
func (p *parser) heading(n int, text string) {
	name, ok := strings.CutSuffix(text, ":")
	if !ok {
		return
	}
	name = strings.ToLower(name)
	if kind, ok := sectionKinds[name]; ok {
		p.inTable, p.section, p.kind = true, name, kind
		return
	}
	for _, other := range otherSections {
		if name == other {
			p.inTable, p.section, p.kind = true, name, ""
			return
		}
	}
	if p.inTable {
		// A section this parser does not know could hold changes it
		// would miss: refuse the plan rather than under-report it.
		p.problems.Add(n, text, "unknown section heading in the transaction table")
		p.kind = ""
	}
}

// flush turns the pending entry into an Entry or a problem.
func (p *parser) flush() {
	if p.pending == nil {
		return
	}
	e, reason := entryFrom(withoutArrows(p.pending.fields), p.kind)
	if reason != "" {
		p.problems.Add(p.pending.line, p.pending.text, reason)
	} else {
		p.tx.Entries = append(p.tx.Entries, e)
	}
	p.pending = nil
}

// summaryLine reads "Upgrade  2 Packages" (dnf4, possibly followed by
// "(+3 Dependent packages)") or "Upgrading:  2 packages" (dnf5).
func (p *parser) summaryLine(n int, fields []string) {
	if len(fields) < 2 || strings.Trim(fields[0], "=") == "" {
		return
	}
	word, countText := fields[0], fields[1]
	if len(fields) >= 3 && fields[0] == "Changing" {
		return // dnf5's "Changing reason:"
	}
	kind, ok := summaryKinds[strings.ToLower(strings.TrimSuffix(word, ":"))]
	if !ok {
		return // Skip, Replacing, prose after the summary
	}
	count, err := strconv.Atoi(countText)
	if err != nil {
		p.problems.Add(n, strings.Join(fields, " "), "bad count in the transaction summary")
		return
	}
	p.summary[kind] += count
}

// checkSummary compares the summary's counts with the entries read.
func (p *parser) checkSummary() {
	read := map[installer.Kind]int{}
	for _, e := range p.tx.Entries {
		read[e.Kind]++
	}
	if len(p.tx.Entries) > 0 && !p.inSummary {
		p.problems.Add(0, "", "transaction table without a summary (output cut short?)")
		return
	}
	for kind, want := range p.summary {
		if read[kind] != want {
			p.problems.Add(0, "", fmt.Sprintf("the summary counts %d %s but the table lists %d", want, kind, read[kind]))
		}
	}
}

// entryFrom reads name, arch, [epoch:]version-release and repository
// from the fields of an entry; the size after them is ignored.
func entryFrom(f []string, kind installer.Kind) (Entry, string) {
	if len(f) < 4 {
		return Entry{}, fmt.Sprintf("want name, arch, version and repository, got %d fields", len(f))
	}
	if !validName(f[0]) {
		return Entry{}, "bad package name"
	}
	if !validArch(f[1]) {
		return Entry{}, "bad architecture"
	}
	if !validEVR(f[2]) {
		return Entry{}, "bad version-release"
	}
	return Entry{Name: f[0], Arch: f[1], EVR: strings.TrimPrefix(f[2], "0:"), Repo: f[3], Kind: kind}, ""
}

// withoutArrows drops dnf5's wide-terminal "<- old" pairs (arch, version,
// repository and size of the replaced package, printed after the new
// one when the table is at least 130 columns wide).
func withoutArrows(f []string) []string {
	if !containsArrow(f) {
		return f
	}
	out := make([]string, 0, len(f))
	for i := 0; i < len(f); i++ {
		if f[i] == "<-" {
			i++ // and the old value after it
			continue
		}
		out = append(out, f[i])
	}
	return out
}

func containsArrow(f []string) bool {
	for _, s := range f {
		if s == "<-" {
			return true
		}
	}
	return false
}

func countIndent(line string) int {
	return len(line) - len(strings.TrimLeft(line, " \t"))
}
