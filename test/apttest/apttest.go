package apttest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tools are the programs a sandbox needs; dpkg-scanpackages comes from
// Debian's dpkg-dev package.
var tools = []string{"apt", "apt-get", "dpkg", "dpkg-deb", "dpkg-query", "dpkg-scanpackages"}

// commandTimeout bounds every tool the sandbox runs.
const commandTimeout = 2 * time.Minute

// Package is a package to build into a repository or to mark installed.
type Package struct {
	Name    string
	Version string
	// Arch is the Debian architecture; empty means "all".
	Arch string
	// Depends is an optional Depends field, such as "redflag-lib (>= 2)".
	Depends string
	// Conflicts is an optional Conflicts field: installing the package
	// makes apt remove the packages it names.
	Conflicts string
	// Postinst is an optional postinst maintainer script body (after
	// "#!/bin/sh"), such as "exit 1" to make configuring the package
	// fail. The sandbox runs scripts without chroot, on the test machine
	// itself: keep it harmless.
	Postinst string
}

func (p Package) arch() string {
	if p.Arch == "" {
		return "all"
	}
	return p.Arch
}

// Repo is one file: repository.
type Repo struct {
	// Suite is the Release file's Suite and Codename, which apt list shows
	// after the slash. Empty means "redflag-test"; end it in "-security"
	// to make a security pocket.
	Suite    string
	Packages []Package
}

// Options describe a sandbox.
type Options struct {
	// Installed packages are written into the dpkg status file as
	// "install ok installed" (their files are not unpacked).
	Installed []Package
	Repos     []Repo
	// CopyLists reaches the repositories with apt's copy: method rather
	// than file:, so the package lists are copies taken at apt-get update,
	// as from a mirror, instead of links that always show the repository
	// as it is now. A test of stale lists needs it.
	CopyLists bool
}

// Sandbox is a ready apt root.
type Sandbox struct {
	// Root is the fake filesystem root dpkg installs into.
	Root string
	// Config is the sandbox's apt.conf: the value for APT_CONFIG.
	Config string
	// RepoDirs are the directories of the file: repositories, in the
	// order of Options.Repos.
	RepoDirs []string

	suites []string
}

// Require fails t when a tool the sandbox needs is not installed, naming
// it and the Debian package that provides it.
func Require(t testing.TB) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("apt sandbox needs %s, which is not installed (apt, dpkg and dpkg-dev packages: run hack/test-deps.sh): %v", tool, err)
		}
	}
}

// New builds a sandbox in a fresh temporary directory and runs apt-get
// update in it. It fails t when tools are missing (hack/test-deps.sh installs them) or on any other
// error.
func New(t testing.TB, opts Options) *Sandbox {
	t.Helper()
	Require(t)
	base := t.TempDir()
	s := &Sandbox{
		Root:   filepath.Join(base, "root"),
		Config: filepath.Join(base, "apt.conf"),
	}
	s.makeRoot(t, opts.Installed)
	var sources strings.Builder
	for i, repo := range opts.Repos {
		dir := filepath.Join(base, "repos", strconv.Itoa(i))
		buildRepo(t, dir, repo)
		s.RepoDirs = append(s.RepoDirs, dir)
		s.suites = append(s.suites, repo.Suite)
		scheme := "file:"
		if opts.CopyLists {
			scheme = "copy:"
		}
		sources.WriteString("deb [trusted=yes] " + scheme + dir + " ./\n")
	}
	writeFile(t, filepath.Join(s.Root, "etc/apt/sources.list"), sources.String())
	writeFile(t, s.Config, s.aptConf(t))
	s.Update(t)
	return s
}

// Publish adds packages to repository i (an index into Options.Repos),
// re-indexes it and runs apt-get update, as when an archive publishes a
// new version.
func (s *Sandbox) Publish(t testing.TB, i int, pkgs ...Package) {
	t.Helper()
	if i < 0 || i >= len(s.RepoDirs) {
		t.Fatalf("apttest: no repository %d", i)
	}
	buildRepo(t, s.RepoDirs[i], Repo{Suite: s.suites[i], Packages: pkgs})
	s.Update(t)
}

// PublishStale adds packages to repository i as Publish does but leaves
// the sandbox's package lists as they were, as on a host whose lists
// nobody refreshes: apt does not know the new versions until apt-get
// update.
func (s *Sandbox) PublishStale(t testing.TB, i int, pkgs ...Package) {
	t.Helper()
	if i < 0 || i >= len(s.RepoDirs) {
		t.Fatalf("apttest: no repository %d", i)
	}
	buildRepo(t, s.RepoDirs[i], Repo{Suite: s.suites[i], Packages: pkgs})
}

// ListsDir is the directory holding the sandbox's package lists
// (Dir::State::Lists).
func (s *Sandbox) ListsDir() string {
	return filepath.Join(s.Root, "var/lib/apt/lists")
}

// Env returns the current environment plus APT_CONFIG for this sandbox,
// for an exec.Cmd.
func (s *Sandbox) Env() []string {
	return append(os.Environ(), "APT_CONFIG="+s.Config)
}

// Setenv points APT_CONFIG at this sandbox for the rest of the test, so
// code that inherits its environment uses the sandbox.
func (s *Sandbox) Setenv(t testing.TB) {
	t.Helper()
	t.Setenv("APT_CONFIG", s.Config)
}

// Run runs an apt or dpkg tool against the sandbox (APT_CONFIG set, C
// locale, non-interactive) and returns its combined output; it fails t
// when the tool fails.
func (s *Sandbox) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := s.run(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (s *Sandbox) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(s.Env(), "LANG=C", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Update runs apt-get update and fails t if apt reports an error.
func (s *Sandbox) Update(t testing.TB) {
	t.Helper()
	out := s.Run(t, "apt-get", "update")
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "E:") || strings.HasPrefix(line, "W:") {
			t.Fatalf("apt-get update in sandbox: %s\n%s", strings.TrimSpace(line), out)
		}
	}
}

// InstalledVersion returns the version of name the sandbox's dpkg database
// records as installed, or "" when it is not installed.
func (s *Sandbox) InstalledVersion(t testing.TB, name string) string {
	t.Helper()
	out, err := s.run("dpkg-query", "--admindir="+filepath.Join(s.Root, "var/lib/dpkg"),
		"-W", "-f=${Status}\t${Version}", name)
	if err != nil {
		return ""
	}
	status, version, _ := strings.Cut(out, "\t")
	// A held package (apt-mark hold) reads "hold ok installed".
	if status != "install ok installed" && status != "hold ok installed" {
		return ""
	}
	return version
}
