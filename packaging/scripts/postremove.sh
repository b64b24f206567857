#!/bin/sh
# redflag-agent package: after its files are gone (deb postrm, rpm %postun).
#
# Makes systemd forget the removed unit file.
set -e

if [ -n "${DPKG_ROOT:-}" ]; then
	exit 0
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
exit 0
