#!/bin/sh
# redflag-agent package: after install or upgrade (deb postinst, rpm %post).
#
# Tells systemd about the unit and restarts an agent that is running, so an
# upgrade takes effect. It never enables or starts the service: a fresh
# install is not enrolled yet. Enroll, then start it:
#   redflag-agent register --server URL --token TOKEN --ca-file ca.crt
#   systemctl enable --now redflag-agent
set -e

# dpkg --root installs into another tree: this host's systemd is not its.
if [ -n "${DPKG_ROOT:-}" ]; then
	exit 0
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
	# Only a running agent is restarted. When the agent itself is upgrading
	# its package, it is this script's ancestor: the unit's KillMode=process
	# lets the package manager finish while the agent restarts.
	systemctl try-restart redflag-agent.service || true
fi
exit 0
