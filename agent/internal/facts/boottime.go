package facts

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// BootTimeFileEnv names a file whose RFC 3339 time replaces the boot
// time read from /proc/stat. Tests that record the reboot command instead
// of running it (REDFLAG_REBOOT_COMMAND) write a new time there, so the
// host looks rebooted; hosts never set it.
const BootTimeFileEnv = "REDFLAG_BOOT_TIME_FILE"

// bootTimeOverride reads the file BootTimeFileEnv names, if set. A
// missing file means "not rebooted yet": the real boot time stands.
func bootTimeOverride() (time.Time, bool, error) {
	path := os.Getenv(BootTimeFileEnv)
	if path == "" {
		return time.Time{}, false, nil
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("boot time from %s: %w", BootTimeFileEnv, err)
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(data)))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("boot time from %s: %w", BootTimeFileEnv, err)
	}
	return t, true, nil
}
