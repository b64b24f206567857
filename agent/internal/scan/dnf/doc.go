// Package dnf scans an RPM-based host (RHEL, Rocky, Alma, Fedora) for
// pending updates with dnf, in both its dnf4 and dnf5 generations.
//
// These outputs are combined:
//
//   - `dnf check-update` (ParseCheckUpdate): one "name.arch  [epoch:]version-release  repo"
//     line per upgrade, long lines wrapped onto an indented continuation
//     line (dnf4), then an "Obsoleting Packages" section whose indented
//     lines name the installed packages being replaced. Exit code 100 means
//     upgrades are listed, 0 none, anything else an error.
//   - `dnf updateinfo list --security` (ParseAdvisories): dnf4 prints
//     "RHSA-2024:1234 Important/Sec. openssl-1:3.0.7-27.el9.x86_64",
//     dnf5 a table "Name Type Severity Package Issued". A package named by
//     a security advisory marks its upgrade Security.
//   - `rpm -qa --qf InstalledQueryFormat` (ParseInstalled): the installed
//     versions, since check-update prints only the candidate.
//   - `dnf -q versionlock list` (ParseLockList): the host's version locks
//     (dnf4's versionlock plugin, dnf5's built-in command). Locked
//     packages are hidden from check-update, so when there are locks
//     check-update runs again with --disableplugin=versionlock, and the
//     locked packages only that run lists are reported Held, as apt-mark
//     holds are; the agent never selects a held update. A dnf without the
//     command (no plugin, plugins off) has no locks.
//
// Merge joins them into PendingUpdates; Runner runs the commands with
// fixed arguments and the C locale, in the root RootEnv (REDFLAG_DNF_ROOT)
// names, if any (dnf --installroot, rpm --root).
//
// sandbox_test.go runs the real dnf 4 and rpm against a root built by
// test/dnftest; the parsers are also tested on recorded and
// hand-written outputs (testdata), the only test of dnf5's formats, which
// Debian 12 does not package.
package dnf
