// Package apt scans a Debian-family host for pending updates with
// `apt list --upgradable`.
//
// Parse reads that command's output, one line per upgradable package:
//
//	openssl/stable-security,stable 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
//
// The text before the first space after the slash is the comma-separated
// list of archives (suites) offering the candidate; it becomes Source, and
// the update counts as a security update when any of those archives ends
// in "-security" (Debian's bookworm-security, Ubuntu's jammy-security and
// the ESM *-infra-security / *-apps-security pockets). apt list does not
// print origins, so a security archive named otherwise is not recognised.
//
// apt list reads only the package lists on disk, which fall behind the
// archive on a host that never refreshes them. Runner.ScanWith therefore
// first runs `apt-get update` when the lists are older than the bound it
// is given (scan.Options.RefreshListsAfter, from the ScanSchedule); the
// lists' age is the modification time of Dir::State::Lists and its
// partial/ directory, found with apt-config. A refresh that fails is
// reported alongside the updates of the old lists (scan.ErrNotRefreshed).
//
// Runner executes apt with a fixed argument list, LANG=C and the inherited
// environment, so APT_CONFIG (see the apttest sub-package) points it at a
// sandbox exactly as it would at a real host's configuration.
package apt
