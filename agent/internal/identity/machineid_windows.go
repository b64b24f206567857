//go:build windows

package identity

import (
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// ReadMachineID returns the MachineGuid Windows sets at installation,
// which is what the Agent CRD calls the machine ID on Windows.
func ReadMachineID() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", fmt.Errorf("%w: open Cryptography key: %w", ErrNoMachineID, err)
	}
	defer func() { _ = k.Close() }()
	v, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return "", fmt.Errorf("%w: read MachineGuid: %w", ErrNoMachineID, err)
	}
	id := strings.TrimSpace(v)
	if id == "" {
		return "", fmt.Errorf("%w: MachineGuid is empty", ErrNoMachineID)
	}
	if err := ValidateMachineID(id); err != nil {
		return "", err
	}
	return id, nil
}
