package release

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
)

// fuzzSeed is a fixed key, so the corpus's signed seeds verify on every run.
var fuzzSeed = []byte("redflag-release-fuzz-seed-32byte")

// FuzzVerify feeds Verify arbitrary manifest files: it must never panic,
// and whatever it accepts must be a valid manifest. Run it with
//
//	go test -fuzz FuzzVerify ./internal/release
//
// (the seeds below run in every go test).
func FuzzVerify(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(fuzzSeed)
	pub := priv.Public().(ed25519.PublicKey)
	signed, err := Sign(validManifest(), priv)
	if err != nil {
		f.Fatal(err)
	}
	bare, _ := json.Marshal(validManifest())
	f.Add(signed)
	f.Add(bare)
	f.Add([]byte(`{"payload":"","signature":""}`))
	f.Add([]byte(`{"payload":"e30=","signature":"AAAA"}`))
	f.Add([]byte(`{"payload":null,"signature":[1,2]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Verify(data, pub)
		if err != nil {
			return
		}
		if verr := m.Validate(); verr != nil {
			t.Fatalf("Verify accepted an invalid manifest %+v: %v", m, verr)
		}
	})
}

// FuzzParseReleasePath checks that every path the handler accepts names
// plain path segments, whatever the request said.
func FuzzParseReleasePath(f *testing.F) {
	for _, s := range []string{
		"/api/v1/releases/v1.2.3/linux-amd64/manifest.json",
		"/api/v1/releases/latest/windows-amd64/redflag-agent",
		"/api/v1/releases/../linux-amd64/manifest.json",
		"/api/v1/releases/%2e%2e/linux-amd64/redflag-agent",
		"/api/v1/releases/v1.2.3/linux-amd64/../../etc/passwd",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req, ok := parseReleasePath(p)
		if !ok {
			return
		}
		for _, seg := range []string{req.version, req.os, req.arch, req.file} {
			if seg == "" || seg == "." || seg == ".." || containsAny(seg, `/\%`) {
				t.Fatalf("accepted %q with segment %q", p, seg)
			}
		}
	})
}

func containsAny(s, chars string) bool {
	for _, c := range s {
		for _, d := range chars {
			if c == d {
				return true
			}
		}
	}
	return false
}
