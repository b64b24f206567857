// Package packaging holds how the agent is shipped: the systemd unit, the
// install script the gateway serves, the nfpm config of the .deb and .rpm
// and their maintainer scripts (docs/install-agent.md).
//
// It embeds the two files Go code hands out, so that the install script,
// the packages and the gateway ship the same bytes from one source: this
// directory. nfpm reads the same files from disk (make packages).
package packaging

import _ "embed"

// SystemdUnit is redflag-agent.service, the unit the packages install in
// /usr/lib/systemd/system and the install script in /etc/systemd/system.
//
//go:embed systemd/redflag-agent.service
var SystemdUnit string

// InstallScript is the install script before the gateway fills in its URL,
// CA and release key (see internal/installscript).
//
//go:embed install.sh
var InstallScript string
