package winget

import (
	"fmt"
	"strings"
)

// upgradeFlags follow the --id of every upgrade: exact id match, no UI,
// agreements accepted (an agent cannot click), no prompts.
var upgradeFlags = []string{
	"--exact", "--silent",
	"--accept-package-agreements", "--accept-source-agreements",
	"--disable-interactivity",
}

// UpgradeArgs is the argument list upgrading one package. Without
// allowNewDependencies winget is told to skip the dependencies its
// manifest declares.
func UpgradeArgs(id string, allowNewDependencies bool) ([]string, error) {
	if !validID(id) {
		return nil, fmt.Errorf("winget: refusing package id %q", id)
	}
	args := append([]string{"upgrade", "--id", id}, upgradeFlags...)
	if !allowNewDependencies {
		args = append(args, "--skip-dependencies")
	}
	return args, nil
}

// validID accepts a winget package id (Publisher.Package, or a Store id)
// that cannot be taken for an option or split into several arguments.
func validID(id string) bool {
	return id != "" && !strings.HasPrefix(id, "-") && !strings.ContainsAny(id, " \t\r\n\"")
}
