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

func FuzzParseTransaction(f *testing.F) {
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
	f.Add([]byte("Upgrading:\n a x86_64 <- 1-1 r\nTransaction Summary:\n Upgrading: 1 package\n\x00\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		tx, err := ParseTransaction(bytes.NewReader(in))
		if err != nil && !errors.Is(err, scan.ErrMalformed) && len(in) <= scan.MaxLineLen {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for _, e := range tx.Entries {
			// Whatever is read could be handed back to dnf and rpm.
			if !validName(e.Name) || !validArch(e.Arch) || !validEVR(e.EVR) || strings.HasPrefix(e.EVR, "0:") || e.Kind == "" {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}
