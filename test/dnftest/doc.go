// Package dnftest builds throwaway RPM roots for tests, so the dnf scanner
// and installer run the real dnf and rpm without touching the test
// machine's own packages.
//
// New builds tiny noarch packages with rpmbuild (each ships one file
// holding its version, PayloadPath), installs the "installed" set into a
// fresh root with `rpm --root`, and makes a file:// repository of the
// rest with createrepo_c, adding an updateinfo.xml of the given advisories
// with modifyrepo_c. The root holds its own etc/dnf/dnf.conf (gpgcheck,
// plugins and weak dependencies off) and etc/yum.repos.d naming only that
// repository; dnf run with --installroot reads both from the root, keeps
// its cache and log there and installs there. Options.VersionLock turns
// plugins on with the versionlock plugin's configuration and locklist
// inside the root (Debian's dnf-plugins-core), for tests of
// `dnf versionlock` holds.
//
// Code under test reaches the sandbox through the REDFLAG_DNF_ROOT
// environment variable (RootEnv; Setenv, Env), which the agent's dnf
// scanner and installer turn into dnf --installroot and rpm --root.
// Debian's rpm keeps its database at ~/.rpmdb inside the root (its
// %_dbpath follows $HOME; RHEL's is /var/lib/rpm), so the code under test
// must run with the test's HOME. Require fails a test, naming the Debian
// packages, when a tool is missing, rather than skip it.
package dnftest
