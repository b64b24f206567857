package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	scandocker "github.com/redflag-io/redflag/agent/internal/scan/docker"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Selects implements installer.Installer: a rollout names an image as a
// docker command would, normalized ("nginx" is docker.io/library/nginx).
// A name with a tag picks that tag; a name without one picks every tag
// of the repository ("nginx" updates nginx:1.27 and nginx:latest).
func (Installer) Selects(name string, u protocol.PendingUpdate) bool {
	want, err := scandocker.ParseReference(name)
	if err != nil {
		return false
	}
	have, err := scandocker.ParseReference(u.Name)
	if err != nil {
		return false
	}
	if hasTag(name) {
		return want.String() == have.String()
	}
	return want.Name() == have.Name()
}

// Keys implements installer.Installer: exclude globs match the name as
// the scan reports it ("nginx:1.27"), the repository without its tag
// ("nginx") and the full reference ("docker.io/library/nginx:1.27").
func (Installer) Keys(u protocol.PendingUpdate) []string {
	ref, err := scandocker.ParseReference(u.Name)
	if err != nil {
		return []string{u.Name}
	}
	familiar := ref.Familiar()
	repo := strings.TrimSuffix(familiar, ":"+ref.Tag)
	return []string{u.Name, repo, ref.String()}
}

// hasTag reports whether a reference names a tag or digest explicitly:
// a colon after the last slash is a tag, one before it a port.
func hasTag(name string) bool {
	return strings.Contains(name, "@") || strings.LastIndexByte(name, ':') > strings.LastIndexByte(name, '/')
}

func isNotFound(err error) bool { return errors.Is(err, errNotFound) }

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("docker engine: decoding: %w", err)
	}
	return nil
}
