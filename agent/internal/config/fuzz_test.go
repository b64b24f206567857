package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must return an error
// or a config that validates, never panic, and what it accepts must
// encode to a file that parses back to the same bytes.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"schemaVersion": 2, "labels": {"a": "b"}, "x": [1, {"y": null}]}`))
	f.Add([]byte(`{"agent_id": "", "private_key": "00", "proxy": {"enabled": true, "http": "p:1"}}`))
	f.Add([]byte(`{"schemaVersion": 1e400}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, mig, err := Parse(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
		if mig != nil && (mig.FromVersion >= mig.ToVersion || mig.ToVersion != CurrentSchemaVersion) {
			t.Fatalf("odd migration %v", mig)
		}
		out, err := cfg.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, mig2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of encoded config failed: %v\n%s", err, out)
		}
		if mig2 != nil {
			t.Fatalf("encoded config needs migration: %v", mig2)
		}
		out2, err := again.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("encoding is not stable:\n%s\n---\n%s", out, out2)
		}
	})
}
