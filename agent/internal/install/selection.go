package install

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/internal/protocol"
)

// knownManagers are the managers a rollout may name.
var knownManagers = []protocol.PackageManager{
	protocol.ManagerApt, protocol.ManagerDnf, protocol.ManagerDocker,
	protocol.ManagerWindowsUpdate, protocol.ManagerWinget,
}

// validate refuses work the API would have refused; a gateway bug or a
// future field should not turn into an install of everything.
func validate(req protocol.PackageWork) error {
	switch req.Scope {
	case protocol.ScopeNamed:
		if len(req.Names) == 0 {
			return errors.New("scope Named without names")
		}
		for _, n := range req.Names {
			if strings.TrimSpace(n) == "" {
				return errors.New("an empty package name")
			}
		}
	case protocol.ScopeAll, protocol.ScopeSecurity:
	default:
		return fmt.Errorf("unknown package scope %q", req.Scope)
	}
	for _, g := range req.Exclude {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("exclude glob %q: %w", g, err)
		}
	}
	for _, m := range req.Managers {
		if !slices.Contains(knownManagers, m) {
			return fmt.Errorf("unknown package manager %q", m)
		}
	}
	return nil
}

// chosen returns the installers the work asks for: all of them when it
// names no manager.
func chosen(all []installer.Installer, managers []protocol.PackageManager) []installer.Installer {
	if len(managers) == 0 {
		return all
	}
	var out []installer.Installer
	for _, inst := range all {
		if slices.Contains(managers, inst.Manager()) {
			out = append(out, inst)
		}
	}
	return out
}

// selectUpdates picks, among one manager's pending updates, those the
// work selects: by scope, then minus the excluded ones.
func selectUpdates(inst installer.Installer, pending []protocol.PendingUpdate, req protocol.PackageWork) []protocol.PendingUpdate {
	var out []protocol.PendingUpdate
	for _, u := range pending {
		if u.Held {
			// Held on the host (apt-mark hold, dnf versionlock): the host's word stands
			// over any rollout's.
			continue
		}
		switch req.Scope {
		case protocol.ScopeNamed:
			if !slices.ContainsFunc(req.Names, func(n string) bool { return inst.Selects(n, u) }) {
				continue
			}
		case protocol.ScopeSecurity:
			if !u.Security {
				continue
			}
		}
		if excluded(req.Exclude, inst.Keys(u)...) {
			continue
		}
		out = append(out, u)
	}
	return out
}

// excluded reports whether any glob matches any of names. Globs were
// validated, so a match error cannot happen.
func excluded(globs []string, names ...string) bool {
	for _, g := range globs {
		for _, n := range names {
			if ok, _ := path.Match(g, n); ok {
				return true
			}
		}
	}
	return false
}
