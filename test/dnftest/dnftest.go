package dnftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// RootEnv is the variable the agent's dnf scanner and installer read
// (agent/internal/scan/dnf.RootEnv; that package's tests check the two
// agree, since this one may not import it).
const RootEnv = "REDFLAG_DNF_ROOT"

// tools are the programs a sandbox needs, from Debian's dnf, rpm and
// createrepo-c packages.
var tools = []string{"dnf", "rpm", "rpmbuild", "createrepo_c", "modifyrepo_c"}

// commandTimeout bounds every tool the sandbox runs.
const commandTimeout = 2 * time.Minute

// Package is a package to build into the repository or install.
type Package struct {
	Name, Version string
	// Release is the RPM release; empty means "1".
	Release string
	// Epoch is the RPM epoch; 0 means none.
	Epoch int
	// Requires is an optional Requires, such as "redflag-lib >= 2".
	Requires string
	// Provides is an optional Provides, such as "redflag-api = 2".
	Provides string
}

// releasePackage is installed in every sandbox. dnf reads $releasever
// from the installed package providing system-release(releasever), as
// fedora-release or redhat-release do on a real host; without one every
// dnf command warns "Unable to detect release version" on stderr, a line
// that would crowd dnf's real reason out of the error tails the agent
// reports.
var releasePackage = Package{Name: "redflag-release", Version: "1", Provides: "system-release(releasever) = 1"}

func (p Package) release() string {
	if p.Release == "" {
		return "1"
	}
	return p.Release
}

// Advisory is one updateinfo entry of the repository.
type Advisory struct {
	// ID is the advisory name, such as RFSA-2026:0001.
	ID string
	// Type is security, bugfix or enhancement; empty means security.
	Type string
	// Severity is Critical, Important, Moderate, Low or empty.
	Severity string
	// Packages are the fixed packages, as published in the repository.
	Packages []Package
}

// Options describe a sandbox.
type Options struct {
	// Installed packages are built and installed into the root with rpm.
	Installed []Package
	// Repo packages are built into the one repository.
	Repo []Package
	// Advisories become the repository's updateinfo.
	Advisories []Advisory
	// VersionLock turns dnf's plugins on in the root, with the
	// versionlock plugin's configuration and (empty) locklist inside it,
	// so a test locks packages as an administrator would, with
	// `dnf versionlock add` through Run, without touching the test
	// machine's /etc/dnf/plugins. Plugins are otherwise off.
	VersionLock bool
}

// Sandbox is a ready RPM root.
type Sandbox struct {
	// Root is the root dnf and rpm work in: the value for RootEnv.
	Root string
	// RepoDir is the repository's directory (repodata/ inside).
	RepoDir string
}

// Require fails t when a tool the sandbox needs is not installed.
func Require(t testing.TB) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("dnf sandbox needs %s, which is not installed (Debian packages dnf, rpm, createrepo-c: run hack/test-deps.sh): %v", tool, err)
		}
	}
}

// New builds a sandbox in a fresh temporary directory and runs dnf
// makecache in it. It fails t when tools are missing (hack/test-deps.sh installs them) or on any
// other error.
func New(t testing.TB, opts Options) *Sandbox {
	t.Helper()
	Require(t)
	base := t.TempDir()
	s := &Sandbox{Root: filepath.Join(base, "root"), RepoDir: filepath.Join(base, "repo")}
	buildRepo(t, s.RepoDir, opts.Repo, opts.Advisories)
	s.install(t, opts.Installed)
	conf := dnfConf + "plugins=0\n"
	if opts.VersionLock {
		conf = s.versionLock(t)
	}
	writeFile(t, filepath.Join(s.Root, "etc/dnf/dnf.conf"), conf)
	writeFile(t, filepath.Join(s.Root, "etc/yum.repos.d/redflag-test.repo"),
		"[redflag-test]\nname=RedFlag test\nbaseurl=file://"+s.RepoDir+"\ngpgcheck=0\nenabled=1\n")
	s.Run(t, "dnf", "makecache")
	if opts.VersionLock {
		if out, err := s.run("dnf", "-q", "versionlock", "list"); err != nil {
			t.Fatalf("dnf sandbox with versionlock needs Debian's dnf-plugins-core (hack/test-deps.sh): %v\n%s", err, out)
		}
	}
	return s
}

// dnfConf is the root's dnf.conf, less its plugins setting. metadata_expire=0 makes dnf re-read the
// repository whenever its cache is older than a second, close to
// apttest's file: lists; ExpireCache makes it certain.
const dnfConf = `[main]
gpgcheck=0
install_weak_deps=0
skip_if_unavailable=0
metadata_expire=0
`

// versionLock writes the versionlock plugin's configuration into the root
// and returns the dnf.conf that loads it. dnf prefixes neither
// pluginconfpath nor the plugin's locklist with --installroot, so both are
// absolute paths inside the root.
func (s *Sandbox) versionLock(t testing.TB) string {
	t.Helper()
	confDir := filepath.Join(s.Root, "etc/dnf/plugins")
	list := filepath.Join(confDir, "versionlock.list")
	writeFile(t, filepath.Join(confDir, "versionlock.conf"), "[main]\nenabled=1\nlocklist="+list+"\n")
	writeFile(t, list, "")
	return dnfConf + "plugins=1\npluginconfpath=" + confDir + "\n"
}

// LockList returns the root's versionlock locklist, as `dnf versionlock
// add` wrote it.
func (s *Sandbox) LockList(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Root, "etc/dnf/plugins/versionlock.list"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// install builds pkgs and installs them into a new rpm database in the
// root.
func (s *Sandbox) install(t testing.TB, pkgs []Package) {
	t.Helper()
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	s.Run(t, "rpm", "--initdb")
	dir := t.TempDir()
	pkgs = append([]Package{releasePackage}, pkgs...)
	args := []string{"-i", "--nosignature"}
	for _, p := range pkgs {
		args = append(args, BuildRPM(t, dir, p))
	}
	s.Run(t, "rpm", args...)
}

// EmptyRoot returns a new root holding only an empty rpm database, as on
// a Debian host that has the dnf and rpm packages but no RPM-managed
// system: the value for RootEnv in a test of that case.
func EmptyRoot(t testing.TB) string {
	t.Helper()
	Require(t)
	root := t.TempDir()
	if out, err := run(nil, "rpm", "--root="+root, "--initdb"); err != nil {
		t.Fatalf("rpm --initdb in %s: %v\n%s", root, err, out)
	}
	return root
}

// ExpireCache marks dnf's cached metadata in the root expired (dnf clean
// expire-cache), so the next dnf command reads the repository as it is
// now, even within the second the cache was written.
func (s *Sandbox) ExpireCache(t testing.TB) {
	t.Helper()
	s.Run(t, "dnf", "clean", "expire-cache")
}

// BreakRepo overwrites the repository's repomd.xml with text that is not
// XML and expires the cache, as when a mirror serves a broken or
// truncated file: the next dnf command fails to load the repository.
func (s *Sandbox) BreakRepo(t testing.TB) {
	t.Helper()
	writeFile(t, filepath.Join(s.RepoDir, "repodata/repomd.xml"), "<this is not repomd")
	s.ExpireCache(t)
}

// Env returns RootEnv for this sandbox, to add to an exec.Cmd's
// environment.
func (s *Sandbox) Env() []string {
	return []string{RootEnv + "=" + s.Root}
}

// Setenv points RootEnv at this sandbox for the rest of the test, so code
// that reads its environment uses the sandbox.
func (s *Sandbox) Setenv(t testing.TB) {
	t.Helper()
	t.Setenv(RootEnv, s.Root)
}

// Run runs dnf or rpm in the sandbox (dnf --installroot, rpm --root, C
// locale) and returns its combined output; it fails t when the tool
// fails.
func (s *Sandbox) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := s.run(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (s *Sandbox) run(name string, args ...string) (string, error) {
	root := "--root=" + s.Root
	if name == "dnf" {
		root = "--installroot=" + s.Root
	}
	out, err := run(nil, name, append([]string{root}, args...)...)
	return string(out), err
}

// InstalledVersion returns the [epoch:]version-release of name in the
// sandbox's rpm database, or "" when it is not installed.
func (s *Sandbox) InstalledVersion(t testing.TB, name string) string {
	t.Helper()
	out, err := s.run("rpm", "-q", "--qf", "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n", name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// Installed returns the names of the packages in the sandbox's rpm
// database, sorted, leaving out the sandbox's own redflag-release.
func (s *Sandbox) Installed(t testing.TB) []string {
	t.Helper()
	out := s.Run(t, "rpm", "-qa", "--qf", "%{NAME}\n")
	names := slices.DeleteFunc(strings.Fields(out), func(n string) bool { return n == releasePackage.Name })
	slices.Sort(names)
	return names
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
