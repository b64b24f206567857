package dnf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// maxLocks bounds the lock patterns kept from one `dnf versionlock list`;
// a host with more has a list nobody reads, and the rest are ignored
// (dnf itself still honours them at install time).
const maxLocks = 1000

// ParseLockList reads `dnf -q versionlock list`: dnf4's plugin prints one
// pattern of its locklist per line ("bash-0:5.1.8-6.el9.*", or a raw spec
// added with --raw); dnf5 prints a "Package name: bash" line per entry
// among its version conditions. Exclude entries ("!spec", which forbid a
// version rather than hold one), comments and prose are skipped. At most
// maxLocks patterns are returned.
func ParseLockList(r io.Reader) ([]string, error) {
	var out []string
	err := scan.Lines(r, func(_ int, line string) error {
		line = strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(line, "Package name:"); ok {
			line = strings.TrimSpace(name)
		}
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") ||
			strings.ContainsAny(line, " \t") || len(out) >= maxLocks {
			return nil
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("dnf versionlock list output: %w", err)
	}
	return out, nil
}

// locked reports whether a lock pattern names the package name, in any of
// the forms the plugin accepts: the name itself or a glob of it
// ("kernel*"), name.arch ("bash.x86_64", "bash.*"), or name followed by a
// version ("bash-0:5.1.8-6.el9.*", "bash-5.1*"). A version starts with a
// digit and an architecture with a letter, which tells "bash-5.1" (bash
// locked) from "bash-completion", and "python3.x86_64" (python3 locked)
// from the package "python3.11".
func locked(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		rest, ok := strings.CutPrefix(p, name)
		if !ok || len(rest) < 2 {
			continue
		}
		switch {
		case rest[0] == '.' && (rest == ".*" || isArch(rest[1:])):
			return true
		case rest[0] == '-' && isDigit(rest[1]):
			return true
		}
	}
	return false
}

// isArch reports whether s is an RPM architecture token: it starts with a
// letter (x86_64, noarch, aarch64, i686) and has only lowercase letters,
// digits and underscores.
func isArch(s string) bool {
	_, _, ok := splitNA("x." + s)
	return ok && s[0] >= 'a' && s[0] <= 'z'
}

// lockListArgs is fixed; never built from input.
var lockListArgs = []string{"-q", "versionlock", "list"}

// exitNoCommand is dnf4's exit code for an unknown command.
const exitNoCommand = 1

// locks returns the host's versionlock patterns. A dnf without the
// command (the plugin not installed, or plugins disabled) has no lock in
// effect, so none and no error.
func (Runner) locks(ctx context.Context, dnf string, root []string) ([]string, error) {
	res, err := scan.Command{Path: dnf, Args: withRoot(root, lockListArgs), Env: cLocale, OKExit: []int{exitNoCommand}}.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("dnf versionlock list: %w", err)
	}
	if res.ExitCode == exitNoCommand {
		if noCommand(res.Stderr) {
			return nil, nil
		}
		return nil, fmt.Errorf("dnf versionlock list exited %d: %s", res.ExitCode, tail(res.Stderr))
	}
	return ParseLockList(bytes.NewReader(res.Stdout))
}

// noCommand tells dnf4's "No such command: versionlock" and dnf5's
// "Unknown argument" from a failure of the command itself.
func noCommand(stderr []byte) bool {
	s := string(stderr)
	return strings.Contains(s, "No such command") || strings.Contains(s, "Unknown argument")
}

// tail is the last line of a command's standard error, bounded.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	if len(last) > 200 {
		last = last[:200]
	}
	return last
}

// heldUpgrades returns the upgrades of all (check-update without
// versionlock) whose package is locked and absent from visible
// (check-update with it), and their names.
func heldUpgrades(all, visible []Upgrade, patterns []string) ([]Upgrade, map[string]bool) {
	seen := make(map[string]bool, len(visible))
	for _, u := range visible {
		seen[u.Name] = true
	}
	var out []Upgrade
	names := map[string]bool{}
	for _, u := range all {
		if !seen[u.Name] && locked(patterns, u.Name) {
			out = append(out, u)
			names[u.Name] = true
		}
	}
	return out, names
}

// markHeld sets Held on the updates of the named packages.
func markHeld(updates []protocol.PendingUpdate, names map[string]bool) {
	for i := range updates {
		updates[i].Held = names[updates[i].Name]
	}
}
