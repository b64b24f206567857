package facts

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// needsRestartingTimeout bounds `needs-restarting -r`, which reads the
// rpm database and can be slow on a busy host.
const needsRestartingTimeout = 30 * time.Second

// rebootRequired asks the system itself, in the order distributions
// provide it: Debian and Ubuntu's /run/reboot-required flag file, then
// RHEL and Fedora's `needs-restarting -r` (exit 1 means required) when it
// is on PATH.
func (s Source) rebootRequired(ctx context.Context) (bool, string, error) {
	flag, err := os.ReadFile(s.path("run/reboot-required"))
	switch {
	case err == nil:
		return true, debianRebootReason(flag, s.readOptional("run/reboot-required.pkgs")), nil
	case !errors.Is(err, os.ErrNotExist):
		return false, "", fmt.Errorf("reboot-required: %w", err)
	}
	if s.Exec == nil {
		return false, "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, needsRestartingTimeout)
	defer cancel()
	out, code, err := s.Exec(ctx, "needs-restarting", "-r")
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return false, "", nil // not a dnf/yum system
	case err != nil:
		return false, "", fmt.Errorf("needs-restarting -r: %w", err)
	case code == 0:
		return false, "", nil
	case code == 1:
		return true, clip(needsRestartingReason(out), maxRebootReason), nil
	default:
		return false, "", fmt.Errorf("needs-restarting -r: exit status %d", code)
	}
}

func (s Source) readOptional(rel string) []byte {
	b, _ := os.ReadFile(s.path(rel))
	return b
}

// debianRebootReason names the packages that asked for the reboot
// (/run/reboot-required.pkgs, one per line, repeats possible), or else the
// flag file's own message.
func debianRebootReason(flag, pkgs []byte) string {
	var names []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(pkgs), "\n") {
		if name := strings.TrimSpace(line); name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		return listReason("packages: ", names)
	}
	if msg := strings.Join(strings.Fields(strings.Trim(string(flag), "*\n ")), " "); msg != "" {
		return clip(msg, maxRebootReason)
	}
	return "/run/reboot-required exists"
}

// needsRestartingReason turns needs-restarting's report, for example
//
//	Core libraries or services have been updated since boot-up:
//	  * kernel
//	  * glibc
//
// into "updated since boot: kernel, glibc".
func needsRestartingReason(out []byte) string {
	var items []string
	var first string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if item, ok := strings.CutPrefix(line, "* "); ok {
			items = append(items, strings.TrimSpace(item))
		} else if first == "" && line != "" {
			first = line
		}
	}
	switch {
	case len(items) > 0:
		return listReason("updated since boot: ", items)
	case first != "":
		return first
	default:
		return "needs-restarting -r reports a reboot is required"
	}
}

// listReason joins names after prefix, ending in "and N more" when they
// would not fit in the CRD's reason field.
func listReason(prefix string, names []string) string {
	s := prefix
	for i, n := range names {
		sep := ""
		if i > 0 {
			sep = ", "
		}
		if len(s)+len(sep)+len(n)+len(" and 999 more") > maxRebootReason {
			return clip(fmt.Sprintf("%s and %d more", s, len(names)-i), maxRebootReason)
		}
		s += sep + n
	}
	return s
}
