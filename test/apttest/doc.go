// Package apttest builds throwaway apt roots for tests, so scanners and
// installers run the real apt and dpkg without touching the test machine's
// own packages.
//
// New creates a root holding a dpkg status database (the packages the test
// says are installed) and one or more file: repositories of .deb packages
// built on the spot with dpkg-deb and indexed with dpkg-scanpackages, each
// with an unsigned Release file naming its suite and listed in sources.list
// as [trusted=yes]. It writes an apt.conf that moves every apt directory
// into the root and hands dpkg --root, then runs apt-get update.
//
// Code under test reaches the sandbox through the APT_CONFIG environment
// variable (Setenv, Env): apt reads that file before /etc/apt/apt.conf.d,
// and the file moves Dir::Etc::parts into the sandbox, so none of the host's
// configuration or hooks apply (see DESIGN.md section 8). Require fails a
// test, naming the missing tool, rather than skip it: a skipped sandbox
// test would read as a pass (hack/test-deps.sh installs the tools).
package apttest
