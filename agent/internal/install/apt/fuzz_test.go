package apt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func FuzzParseSimulation(f *testing.F) {
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
	f.Add([]byte("Inst a [1] (2 x [all])\x00\nRemv b\nPurg c [\xff]"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseSimulation(bytes.NewReader(in))
		if err != nil && !errors.Is(err, scan.ErrMalformed) && len(in) <= scan.MaxLineLen {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for _, c := range got {
			// Whatever is read could be handed back to apt-get: it must
			// be a plain package name, never an option.
			if !validName(c.Name) || c.Key == "" || strings.Contains(c.Key, ":") {
				t.Fatalf("bad name in %+v", c)
			}
			switch c.Kind {
			case installer.Upgrade:
				if c.From == "" || c.To == "" {
					t.Fatalf("upgrade without versions: %+v", c)
				}
			case installer.Install:
				if c.From != "" || c.To == "" {
					t.Fatalf("install with old or without new version: %+v", c)
				}
			case installer.Remove:
				if c.To != "" {
					t.Fatalf("removal with a new version: %+v", c)
				}
			default:
				t.Fatalf("unexpected kind: %+v", c)
			}
			if strings.ContainsAny(c.From+c.To, " []()") {
				t.Fatalf("version with separators: %+v", c)
			}
		}
	})
}
