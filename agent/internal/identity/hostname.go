package identity

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Hostname returns the host's name as the kernel reports it, trimmed.
// An empty name is an error: the server shows it as the host's label.
func Hostname() (string, error) {
	name, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("hostname: %w", err)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errors.New("hostname: the system reports an empty name")
	}
	return name, nil
}
