package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// RebootCommandEnv names the environment variable that replaces the
// reboot command (tests set it to a harmless program).
const RebootCommandEnv = "REDFLAG_REBOOT_COMMAND"

// maxRebootOutput bounds what the reboot command may print.
const maxRebootOutput = 64 << 10

// Reboot reboots the host (systemctl reboot on Linux, shutdown /r on
// Windows), or runs $REDFLAG_REBOOT_COMMAND when set: split on white
// space with strings.Fields and run without a shell. It returns once the
// command has: the reboot itself follows.
func Reboot(ctx context.Context) error {
	argv := rebootCommand()
	if len(argv) == 0 {
		return errors.New("reboot: no reboot command on this host")
	}
	_, err := scan.Command{Path: argv[0], Args: argv[1:], MaxOutput: maxRebootOutput}.Run(ctx)
	if err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	return nil
}

func rebootCommand() []string {
	if s := os.Getenv(RebootCommandEnv); strings.TrimSpace(s) != "" {
		return strings.Fields(s)
	}
	return defaultRebootCommand()
}
