package identity

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// ErrNoMachineID means none of the machine ID sources held a usable value.
var ErrNoMachineID = errors.New("no machine ID")

// machineIDPattern is the Agent CRD's pattern for spec.machineID.
var machineIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

const maxMachineIDLen = 128

// ReadMachineIDFrom returns the first usable machine ID among paths, in
// order. A missing or empty file, or one still saying "uninitialized"
// (systemd writes that during first boot, before the real ID exists),
// moves on to the next path; a file with another kind of value is an
// error, since silently skipping it could bind the host to a different ID
// after a reboot.
func ReadMachineIDFrom(paths ...string) (string, error) {
	var tried []string
	for _, p := range paths {
		id, err := readIDFile(p)
		if errors.Is(err, os.ErrNotExist) {
			tried = append(tried, p+" (missing)")
			continue
		}
		if err != nil {
			return "", err
		}
		if id == "" || id == "uninitialized" {
			tried = append(tried, p+" (empty)")
			continue
		}
		if err := ValidateMachineID(id); err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		return id, nil
	}
	return "", fmt.Errorf("%w: tried %s", ErrNoMachineID, strings.Join(tried, ", "))
}

// ValidateMachineID checks id against what the server accepts.
func ValidateMachineID(id string) error {
	if len(id) > maxMachineIDLen || !machineIDPattern.MatchString(id) {
		return fmt.Errorf("machine ID %q is not 1-%d letters, digits, '.', '_', ':' or '-'", id, maxMachineIDLen)
	}
	return nil
}

// readIDFile reads at most a few hundred bytes: a machine ID is 33.
func readIDFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read machine ID: %w", err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, 4*maxMachineIDLen))
	if err != nil {
		return "", fmt.Errorf("read machine ID %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}
