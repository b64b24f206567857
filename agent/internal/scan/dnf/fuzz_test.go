package dnf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

func seeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed fixtures: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a.x\n\t1-1 r\nObsoleting Packages\n b.y 1:2-3 r\n\xff.x 1-1 \x00"))
}

func okErr(t *testing.T, err error, in []byte) {
	t.Helper()
	if err != nil && !errors.Is(err, scan.ErrMalformed) && len(in) <= scan.MaxLineLen {
		t.Fatalf("unexpected error kind: %v", err)
	}
}

// Each fuzz target feeds the input through its parser and then Merge, the
// only way parsed data reaches a status, and checks what comes out.

func FuzzParseCheckUpdate(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		ups, err := ParseCheckUpdate(bytes.NewReader(in))
		okErr(t, err, in)
		for _, u := range ups {
			if u.Name == "" || u.Arch == "" || !validEVR(u.EVR) || u.Repo == "" {
				t.Fatalf("bad upgrade %+v", u)
			}
		}
		checkAll(t, Merge(ups, nil, nil))
	})
}

func FuzzParseAdvisories(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		advs, err := ParseAdvisories(bytes.NewReader(in))
		okErr(t, err, in)
		ups := make([]Upgrade, 0, len(advs))
		for _, a := range advs {
			if a.Name == "" || a.Arch == "" || !validEVR(a.EVR) {
				t.Fatalf("bad advisory %+v", a)
			}
			ups = append(ups, Upgrade{Name: a.Name, Arch: a.Arch, EVR: a.EVR, Repo: a.ID})
		}
		checkAll(t, Merge(ups, nil, advs))
	})
}

func FuzzParseInstalled(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		inst, err := ParseInstalled(bytes.NewReader(in))
		okErr(t, err, in)
		ups := make([]Upgrade, 0, len(inst))
		for na, evr := range inst {
			name, arch, ok := splitNA(na)
			if !ok || !validEVR(evr) {
				t.Fatalf("bad installed entry %q %q", na, evr)
			}
			ups = append(ups, Upgrade{Name: name, Arch: arch, EVR: evr, Repo: "r"})
		}
		checkAll(t, Merge(ups, inst, nil))
	})
}

func FuzzParseLockList(f *testing.F) {
	seeds(f)
	f.Add([]byte("# Added lock\nbash-0:5.1.8-6.el9.*\n!kernel-0:5.14-1.*\nPackage name: openssl\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		locks, err := ParseLockList(bytes.NewReader(in))
		okErr(t, err, in)
		if len(locks) > maxLocks {
			t.Fatalf("%d locks kept, more than %d", len(locks), maxLocks)
		}
		for _, l := range locks {
			if l == "" || strings.ContainsAny(l, " \t") || l[0] == '!' || l[0] == '#' {
				t.Fatalf("bad lock pattern %q", l)
			}
			locked(locks, l) // must not panic on any pattern
		}
	})
}
