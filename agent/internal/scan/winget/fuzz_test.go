package winget

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

func seed(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed fixtures %s: %v", pattern, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseTable(f *testing.F) {
	seed(f, "*.txt")
	f.Add([]byte("名 I V A S\n--------\n漢字 a.b 1 2 w\n\x1b[ \xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseTable(bytes.NewReader(in))
		if err != nil && !errors.Is(err, scan.ErrMalformed) && len(in) <= scan.MaxLineLen {
			t.Fatalf("unexpected error kind: %v", err)
		}
		checkAll(t, got)
	})
}

func FuzzParseClientJSON(f *testing.F) {
	seed(f, "*.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseClientJSON(in)
		if err != nil && got != nil {
			t.Fatalf("updates returned with a decoding error: %v", err)
		}
		checkAll(t, got)
	})
}
