package scanrun

import (
	"github.com/redflag-io/redflag/internal/protocol"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// SourceFacts is the Outcome name of the facts collection behind the
// storage and system subsystems.
const SourceFacts = "facts"

// maxMessage mirrors the MaxLength of SubsystemStatus.Message, so
// a message can be copied to the status as is.
const maxMessage = 512

// maxDetail bounds the error text quoted in a message.
const maxDetail = 256

// Outcome is what one source of a subsystem did in one run: a package
// manager for updates, the Docker engine for docker, the facts collection for storage and
// system.
type Outcome struct {
	// Name is the package manager, SourceDocker or SourceFacts.
	Name string `json:"name"`
	// Present is false when the package manager is not installed on this
	// host. An absent source is Skipped; it is neither a failure nor
	// counted by the circuit breaker.
	Present bool `json:"present"`
	// Result is Succeeded, Failed, TimedOut or Skipped (absent, circuit
	// open, or the previous run still going).
	Result protocol.RunResult `json:"result"`
	// Message explains anything but a clean success: the error, why it
	// was skipped and when it is retried, or what a partial success left
	// out.
	Message string `json:"message,omitempty"`
	// Updates counts the distinct updates this source put in the
	// inventory, including kept ones.
	Updates int `json:"updates,omitempty"`
	// KeptFrom is set when this run produced no fresh list and the
	// inventory holds the updates of the source's last successful scan,
	// taken at that time.
	KeptFrom *protocol.Time `json:"keptFrom,omitempty"`
	// Took is how long the source ran.
	Took protocol.Duration `json:"took"`
}

func clipMessage(s string) string {
	return scan.Clean(s, maxMessage)
}
