package winget

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
)

// Verdict is what an upgrade did.
type Verdict int

const (
	// Upgraded: winget installed the new version.
	Upgraded Verdict = iota
	// UpgradedRebootRequired: installed; Windows must restart to finish.
	UpgradedRebootRequired
	// NotApplicable: winget found no upgrade to apply; nothing changed.
	NotApplicable
)

// winget's own exit codes (AppInstallerErrors.h), as Go reports a Windows
// exit status: the unsigned 32-bit value.
const (
	exitNoApplicationsFound     = 0x8A150014
	exitUpdateNotApplicable     = 0x8A15002B
	exitPackageInUse            = 0x8A150101
	exitInstallInProgress       = 0x8A150102
	exitFileInUse               = 0x8A150103
	exitMissingDependency       = 0x8A150104
	exitDiskFull                = 0x8A150105
	exitRebootRequiredToFinish  = 0x8A150109
	exitRebootRequiredToInstall = 0x8A15010A
	exitRebootInitiated         = 0x8A15010B
	exitBlockedByPolicy         = 0x8A15010F
)

// failures explains the exit codes of upgrades that did not happen.
var failures = map[uint32]string{
	exitNoApplicationsFound:     "no installed package matches the id",
	exitPackageInUse:            "the application is running",
	exitInstallInProgress:       "another installation is in progress",
	exitFileInUse:               "a file is in use",
	exitMissingDependency:       "a dependency is missing",
	exitDiskFull:                "the disk is full",
	exitRebootRequiredToInstall: "Windows must restart before this can be installed",
	exitBlockedByPolicy:         "an organization policy blocks the installation",
}

// ErrUpgradeFailed is wrapped by Interpret's errors.
var ErrUpgradeFailed = errors.New("winget upgrade failed")

// Interpret judges one `winget upgrade --id` run by its exit code,
// quoting the last lines of its output (progress residue removed) when it
// failed.
func Interpret(exitCode int, output []byte) (Verdict, error) {
	code := uint32(exitCode)
	switch code {
	case 0:
		return Upgraded, nil
	case exitUpdateNotApplicable:
		return NotApplicable, nil
	case exitRebootRequiredToFinish, exitRebootInitiated:
		return UpgradedRebootRequired, nil
	}
	why := failures[code]
	if why == "" {
		why = "exit code 0x" + strings.ToUpper(fmt.Sprintf("%08x", code))
	}
	if last := installer.Tail([]byte(Screen(string(output))), 2); last != "" {
		why += ": " + last
	}
	return 0, fmt.Errorf("%w: %s", ErrUpgradeFailed, why)
}

// Screen returns what a terminal would show of winget's output: for each
// line the text after its last carriage return (spinner and progress-bar
// frames overwrite each other), without VT escape sequences, and without
// lines left holding only a spinner or a bar.
func Screen(out string) string {
	var keep []string
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		line = strings.TrimSpace(stripEscapes(line))
		if line == "" || strings.Trim(line, `-\|/ `) == "" || strings.ContainsRune(line, '█') || strings.ContainsRune(line, '▒') {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// stripEscapes removes CSI sequences (ESC [ ... final byte) and other
// lone escapes.
func stripEscapes(s string) string {
	if !strings.ContainsRune(s, '\x1b') {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\x1b' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '[' {
			i += 2
			for i < len(s) && !(s[i] >= 0x40 && s[i] <= 0x7e) {
				i++
			}
			continue
		}
		i++ // a two-byte escape
	}
	return b.String()
}
