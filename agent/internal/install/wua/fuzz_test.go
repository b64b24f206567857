package wua

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseReport(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
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
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := ParseReport(in)
		if err != nil {
			return
		}
		// Whatever parses is judged without panicking, and every change
		// it reports is an update the report says succeeded.
		res, _ := judgeReport(rep, []string{"a"})
		ok := 0
		for _, u := range rep.Updates {
			if succeeded(u.ResultCode) {
				ok++
			}
		}
		if len(res.Changes) != ok {
			t.Fatalf("%d changes for %d succeeded updates", len(res.Changes), ok)
		}
	})
}
