// Package dnf installs pending updates on an RPM-based host with dnf, in
// both its dnf4 (RHEL 8-9, Fedora up to 40) and dnf5 (Fedora 41 and
// later) generations.
//
// Plan runs `dnf upgrade --assumeno <names>`: dnf resolves the
// transaction, prints its table and stops, exiting 1 with "Operation
// aborted." (dnf4) or "Operation aborted by the user." (dnf5), which is
// the expected end of a dry run. ParseTransaction reads the table:
//
//	dnf4:
//	 Package           Arch    Version              Repository      Size
//	================================================================================
//	Upgrading:
//	 openssl           x86_64  1:3.0.7-27.el9       baseos         1.2 M
//	Installing dependencies:
//	 openssl-fips-provider-so
//	                   x86_64  3.0.7-2.el9          baseos         575 k
//
//	Transaction Summary
//	================================================================================
//	Install  1 Package
//	Upgrade  1 Package
//
//	dnf5:
//	Package          Arch   Version          Repository      Size
//	Upgrading:
//	 curl            x86_64 8.9.1-3.fc41     updates    793.5 KiB
//	   replacing curl x86_64 8.9.1-2.fc41    updates    793.6 KiB
//
//	Transaction Summary:
//	 Upgrading:          1 package
//	 Replacing:          1 package
//
// A package line is indented by exactly one space under a section
// heading; dnf4 wraps a long line onto indented continuation lines;
// "replacing" lines and dnf5's old-version lines are indented further
// and skipped (the versions before come from rpm, which is exact).
// The counts of the summary are checked against the lines read, so a
// format change cannot silently hide a package from the plan.
//
// Install runs `dnf -y upgrade <names>` and reads the versions after from
// `rpm -qa`. When scandnf.RootEnv (REDFLAG_DNF_ROOT) names a root, dnf
// runs with --installroot and rpm with --root there.
//
// The sandbox tests run the real dnf 4 and rpm (Debian's packages)
// against a root built by test/dnftest: plan, install of only the
// chosen package read back from the root's rpm database, a new dependency
// in the plan, a missing package and a broken repository. dnf5 is not
// packaged for Debian 12, so its table is tested on outputs hand-written
// from the real formats (see testdata/README.md), as is the dnf4 parser's
// handling of formats the sandbox does not produce; both are fuzzed.
package dnf
