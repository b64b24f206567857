#!/bin/sh
# redflag-agent package: before its files go (deb prerm, rpm %preun).
#
# On removal it stops and disables the agent. On upgrade it does nothing:
# the agent keeps running until postinstall restarts it on the new binary.
# The config and state (/etc/redflag, /var/lib/redflag) are kept even on
# purge: they are the host's identity.
set -e

if [ -n "${DPKG_ROOT:-}" ]; then
	exit 0
fi
case ${1:-} in
remove | 0) ;; # deb: remove; rpm: 0 packages left (1 is an upgrade)
*) exit 0 ;;
esac
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now redflag-agent.service || true
fi
exit 0
