package apt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

func FuzzParse(f *testing.F) {
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
	f.Add([]byte("a/b c d [upgradable from: e]\x00\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Parse(bytes.NewReader(in))
		if err != nil && !errors.Is(err, scan.ErrMalformed) && len(in) <= scan.MaxLineLen {
			t.Fatalf("unexpected error kind: %v", err)
		}
		checkAll(t, got)
	})
}
