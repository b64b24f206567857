// Package apt installs pending updates on a Debian-family host with the
// real apt-get and dpkg.
//
// Pending refreshes the package lists (apt-get update) and lists
// upgrades with the apt scanner. Plan asks apt itself what an upgrade of
// the selected packages would do:
//
//	apt-get -s -y install --only-upgrade <names>
//
// and reads its simulation lines (ParseSimulation):
//
//	Inst openssl [3.0.14-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
//	Inst libnew1 (1.2-1 Debian:12.8/stable [amd64])
//	Remv oldpkg [0.9-3]
//
// "Inst" with a bracketed old version is an upgrade, without one a new
// package, "Remv"/"Purg" a removal. --only-upgrade keeps apt from
// installing a named package that is not installed, but apt still pulls
// in new dependencies and upgrades other packages the named ones need:
// those are exactly what the plan shows and the orchestrator judges.
//
// Install runs the same command without -s, non-interactively, keeping
// modified configuration files (--force-confdef --force-confold), then
// reads the installed versions back with dpkg-query from the dpkg
// database apt itself uses (apt-config's Dir::State::status).
//
// Every command is a fixed argument list, LANG=C, over the inherited
// environment: APT_CONFIG, as the tests set it with test/apttest,
// points everything at a sandbox exactly as it would at a host's own
// configuration. Only names apt itself listed are ever passed to it.
package apt
