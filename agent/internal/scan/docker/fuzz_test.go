package docker

import (
	"testing"
	"unicode/utf8"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"nginx", "nginx:1.27", "docker.io/library/nginx", "index.docker.io/x/y:z",
		"localhost:5000/a/b:t", "[::1]:5000/app:1", "Registry/app", "library/a/b",
		"ghcr.io/o/app@" + dgA, "app:1@" + dgB, "r.io/x@sha384+b:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"a__b/c-d/e.f---g_h:T", "app:", "a//b", "host:99999999/app", "[::1", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ref, err := ParseReference(in)
		if err != nil {
			return
		}
		if ref.Domain == "" || ref.Path == "" || (ref.Tag == "" && ref.Digest == "") {
			t.Fatalf("ParseReference(%q) = %+v: empty part", in, ref)
		}
		if len(ref.Name()) > maxNameLen || !utf8.ValidString(ref.String()) {
			t.Fatalf("ParseReference(%q) = %+v: name too long or not UTF-8", in, ref)
		}
		// Normal forms are fixed points: parsing them again changes nothing.
		for _, s := range []string{ref.String(), ref.Familiar()} {
			again, err := ParseReference(s)
			if err != nil || again != ref {
				t.Fatalf("ParseReference(%q) = %+v; reparsing %q gives %+v, %v", in, ref, s, again, err)
			}
		}
		// Whatever parses makes a PendingUpdate that passes the API bounds
		// once bounded.
		u := scan.Bound(protocol.PendingUpdate{Manager: protocol.ManagerDocker, Name: ref.Familiar(), Source: ref.Domain, CurrentVersion: ref.Digest})
		if err := scan.Check(u); err != nil {
			t.Fatalf("ParseReference(%q): %v", in, err)
		}
	})
}
