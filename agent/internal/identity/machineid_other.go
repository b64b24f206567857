//go:build !windows

package identity

// MachineIDPaths are where ReadMachineID looks, in order: systemd's file,
// then D-Bus's copy, which older and non-systemd systems have instead.
var MachineIDPaths = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// ReadMachineID returns the host's machine ID.
func ReadMachineID() (string, error) {
	return ReadMachineIDFrom(MachineIDPaths...)
}
