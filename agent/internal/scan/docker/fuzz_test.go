package docker

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/api/v1alpha1"
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
		u := scan.Bound(v1alpha1.PendingUpdate{Manager: v1alpha1.ManagerDocker, Name: ref.Familiar(), Source: ref.Domain, CurrentVersion: ref.Digest})
		if err := scan.Check(u); err != nil {
			t.Fatalf("ParseReference(%q): %v", in, err)
		}
	})
}

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`,
		`Basic realm="Registry Realm"`, `basic, Bearer Realm = "https://x/t" ,  error=invalid_token`,
		`Bearer realm="a\"b\\c", Basic realm=""`, `Basic abc==`, `Bearer realm="x`, "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cs, err := ParseChallenges(in)
		if err != nil {
			return
		}
		parts := make([]string, len(cs))
		for i, c := range cs {
			if c.Scheme == "" || strings.IndexFunc(c.Scheme, func(r rune) bool { return r > 0x7e || !isTchar(byte(r)) }) >= 0 {
				t.Fatalf("ParseChallenges(%q): bad scheme %q", in, c.Scheme)
			}
			parts[i] = c.String()
		}
		// The canonical form reads back to the same challenges.
		again, err := ParseChallenges(strings.Join(parts, ", "))
		if err != nil || !reflect.DeepEqual(again, cs) {
			t.Fatalf("ParseChallenges(%q) = %+v; its canonical form %q gives %+v, %v", in, cs, strings.Join(parts, ", "), again, err)
		}
	})
}

func FuzzParseCredentials(f *testing.F) {
	f.Add([]byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"r.io":{"username":"u","password":"p"}}}`))
	f.Add([]byte(`{"auths":{"x":{"auth":"!!"}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		creds, err := ParseCredentials(in)
		if err != nil {
			return
		}
		for k, c := range creds {
			if strings.Contains(k, "/") || c.Username == "" && c.Password == "" {
				t.Fatalf("ParseCredentials: bad entry %q: %+v", k, c)
			}
		}
	})
}
