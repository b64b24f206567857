package scanrun

import (
	"errors"
	"fmt"
	"strings"
)

// Subsystem names what one scan covers. The values are those of
// SubsystemStatus.Name (the Agent's status.subsystems) and of a ScanSchedule's subsystems.
type Subsystem string

// The subsystems.
const (
	Updates Subsystem = "updates"
	Storage Subsystem = "storage"
	System  Subsystem = "system"
	Docker  Subsystem = "docker"
)

// All lists every subsystem, in the order a full scan reports them.
func All() []Subsystem {
	return []Subsystem{Updates, Storage, System, Docker}
}

// ErrUnknownSubsystem is wrapped when a subsystem name is not one of All.
var ErrUnknownSubsystem = errors.New("unknown subsystem")

// ParseSubsystems reads one subsystem name, or "all" for every subsystem.
func ParseSubsystems(s string) ([]Subsystem, error) {
	s = strings.TrimSpace(s)
	if s == "all" {
		return All(), nil
	}
	for _, sub := range All() {
		if string(sub) == s {
			return []Subsystem{sub}, nil
		}
	}
	return nil, fmt.Errorf("%w %q: want updates, storage, system, docker or all", ErrUnknownSubsystem, s)
}

func known(sub Subsystem) bool {
	switch sub {
	case Updates, Storage, System, Docker:
		return true
	}
	return false
}
