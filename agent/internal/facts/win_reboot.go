package facts

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// windowsRebootRequired reads the three places Windows records that a
// restart is needed, and names each one found in the reason:
//
//   - WindowsUpdate\Auto Update\RebootRequired exists while updates Windows
//     Update installed wait for a restart (one value per update);
//   - Component Based Servicing\RebootPending exists while a servicing
//     operation (a cumulative update, a feature or role being added or
//     removed) is half done;
//   - Session Manager's PendingFileRenameOperations (and ...2) list files
//     to be replaced or deleted at the next boot, because they were in use.
//     Installers of all kinds add to it, so it is the commonest reason;
//     the files are only counted, as their paths can name users.
//
// A key that cannot be read for another reason than being absent is an
// error, and the answer is built from the others.
func windowsRebootRequired(api winAPI) (bool, string, error) {
	var reasons []string
	var errs []error

	switch n, err := api.RegValueCount(regWUReboot); {
	case err == nil && n > 0:
		reasons = append(reasons, fmt.Sprintf("Windows Update: %s installed, restart required", plural(n, "update")))
	case err == nil:
		reasons = append(reasons, "Windows Update: restart required")
	case !errors.Is(err, fs.ErrNotExist):
		errs = append(errs, fmt.Errorf("reboot-required: Windows Update key: %w", err))
	}

	switch _, err := api.RegValueCount(regCBSReboot); {
	case err == nil:
		reasons = append(reasons, "Component Based Servicing: servicing operation pending")
	case !errors.Is(err, fs.ErrNotExist):
		errs = append(errs, fmt.Errorf("reboot-required: Component Based Servicing key: %w", err))
	}

	renames := 0
	for _, name := range []string{"PendingFileRenameOperations", "PendingFileRenameOperations2"} {
		ops, err := api.RegStrings(regSessionManager, name)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("reboot-required: %s: %w", name, err))
			}
			continue
		}
		renames += pendingRenames(ops)
	}
	if renames > 0 {
		reasons = append(reasons, fmt.Sprintf("%s pending (PendingFileRenameOperations)", plural(renames, "file rename")))
	}

	reason := clip(strings.Join(reasons, "; "), maxRebootReason)
	return len(reasons) > 0, reason, errors.Join(errs...)
}

// pendingRenames counts the operations in a PendingFileRenameOperations
// value: pairs of source and destination (an empty destination deletes
// the source). Pairs with an empty source are padding, not work.
func pendingRenames(ops []string) int {
	n := 0
	for i := 0; i < len(ops); i += 2 {
		if strings.TrimSpace(ops[i]) != "" {
			n++
		}
	}
	return n
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
