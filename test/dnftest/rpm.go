package dnftest

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// spec is the one spec file every package is built from; the name,
// version, release, epoch, requirements and provides come in as macros.
const spec = `Name: %{pname}
Version: %{pversion}
Release: %{prelease}
%{?pepoch:Epoch: %{pepoch}}
%{?prequires:Requires: %{prequires}}
%{?pprovides:Provides: %{pprovides}}
Summary: RedFlag test package
License: MIT
BuildArch: noarch
%description
RedFlag test package built by dnftest.
%install
mkdir -p %{buildroot}/usr/share/redflag-test/%{name}
echo %{pversion}-%{prelease} > %{buildroot}/usr/share/redflag-test/%{name}/version
%files
/usr/share/redflag-test/%{name}/version
`

// field is what a name, version or release may hold: it becomes a macro
// value, so nothing rpm would expand or split.
var field = regexp.MustCompile(`^[A-Za-z0-9._+~^-]{1,64}$`)

// PayloadPath is where a package built by BuildRPM installs a file holding
// its version-release, relative to the root it is installed into.
func PayloadPath(name string) string {
	return filepath.Join("usr/share/redflag-test", name, "version")
}

// BuildRPM builds p into a noarch .rpm inside dir with rpmbuild and
// returns its path.
func BuildRPM(t testing.TB, dir string, p Package) string {
	t.Helper()
	if !field.MatchString(p.Name) || !field.MatchString(p.Version) || !field.MatchString(p.release()) {
		t.Fatalf("dnftest: bad package %+v", p)
	}
	top := t.TempDir()
	specPath := filepath.Join(top, "p.spec")
	writeFile(t, specPath, spec)
	args := []string{"--quiet", "-bb",
		"--define", "_topdir " + top,
		"--define", "_rpmdir " + dir,
		"--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
		// Skip the brp-* post-install scripts (strip, compress, check):
		// one text file has nothing for them, and they double the time.
		"--define", "__spec_install_post %{nil}",
		"--define", "pname " + p.Name,
		"--define", "pversion " + p.Version,
		"--define", "prelease " + p.release(),
	}
	if p.Epoch > 0 {
		args = append(args, "--define", "pepoch "+strconv.Itoa(p.Epoch))
	}
	if p.Requires != "" {
		args = append(args, "--define", "prequires "+p.Requires)
	}
	if p.Provides != "" {
		args = append(args, "--define", "pprovides "+p.Provides)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := run(nil, "rpmbuild", append(args, specPath)...)
	if err != nil {
		t.Fatalf("rpmbuild %s-%s: %v\n%s", p.Name, p.Version, err, out)
	}
	return filepath.Join(dir, fmt.Sprintf("%s-%s-%s.noarch.rpm", p.Name, p.Version, p.release()))
}

// buildRepo builds pkgs into dir and indexes it with createrepo_c, then
// adds the advisories as updateinfo with modifyrepo_c.
func buildRepo(t testing.TB, dir string, pkgs []Package, advisories []Advisory) {
	t.Helper()
	for _, p := range pkgs {
		BuildRPM(t, dir, p)
	}
	if out, err := run(nil, "createrepo_c", "--quiet", dir); err != nil {
		t.Fatalf("createrepo_c %s: %v\n%s", dir, err, out)
	}
	if len(advisories) == 0 {
		return
	}
	doc, err := updateInfo(advisories)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "updateinfo.xml")
	writeFile(t, path, string(doc))
	out, err := run(nil, "modifyrepo_c", "--mdtype=updateinfo", path, filepath.Join(dir, "repodata"))
	if err != nil {
		t.Fatalf("modifyrepo_c: %v\n%s", err, out)
	}
}

// The updateinfo.xml elements dnf reads.
type (
	xmlUpdates struct {
		XMLName xml.Name    `xml:"updates"`
		Updates []xmlUpdate `xml:"update"`
	}
	xmlUpdate struct {
		From     string   `xml:"from,attr"`
		Status   string   `xml:"status,attr"`
		Type     string   `xml:"type,attr"`
		Version  string   `xml:"version,attr"`
		ID       string   `xml:"id"`
		Title    string   `xml:"title"`
		Severity string   `xml:"severity,omitempty"`
		Issued   xmlDate  `xml:"issued"`
		Pkgs     []xmlPkg `xml:"pkglist>collection>package"`
	}
	xmlDate struct {
		Date string `xml:"date,attr"`
	}
	xmlPkg struct {
		Name     string `xml:"name,attr"`
		Version  string `xml:"version,attr"`
		Release  string `xml:"release,attr"`
		Epoch    string `xml:"epoch,attr"`
		Arch     string `xml:"arch,attr"`
		Filename string `xml:"filename"`
	}
)

// updateInfo renders advisories as an updateinfo.xml document.
func updateInfo(advisories []Advisory) ([]byte, error) {
	var doc xmlUpdates
	for _, a := range advisories {
		typ := a.Type
		if typ == "" {
			typ = "security"
		}
		u := xmlUpdate{From: "tests@redflag.invalid", Status: "stable", Type: typ, Version: "1",
			ID: a.ID, Title: a.ID, Severity: a.Severity, Issued: xmlDate{Date: "2026-01-01 00:00:00"}}
		for _, p := range a.Packages {
			u.Pkgs = append(u.Pkgs, xmlPkg{Name: p.Name, Version: p.Version, Release: p.release(),
				Epoch: strconv.Itoa(p.Epoch), Arch: "noarch",
				Filename: fmt.Sprintf("%s-%s-%s.noarch.rpm", p.Name, p.Version, p.release())})
		}
		doc.Updates = append(doc.Updates, u)
	}
	out, err := xml.MarshalIndent(doc, "", " ")
	if err != nil {
		return nil, fmt.Errorf("dnftest: updateinfo: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}

// run runs a tool in the C locale, bounded by commandTimeout, and returns
// its combined output.
func run(env []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), env...), "LANG=C", "LC_ALL=C")
	return cmd.CombinedOutput()
}
