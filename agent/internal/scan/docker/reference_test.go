package docker

import (
	"errors"
	"strings"
	"testing"
)

const (
	dgA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dgB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParseReference(t *testing.T) {
	tests := []struct {
		in       string
		want     Reference
		familiar string
		apiHost  string
	}{
		{"nginx", Reference{"docker.io", "library/nginx", "latest", ""}, "nginx:latest", "registry-1.docker.io"},
		{"nginx:1.27", Reference{"docker.io", "library/nginx", "1.27", ""}, "nginx:1.27", "registry-1.docker.io"},
		{"docker.io/nginx", Reference{"docker.io", "library/nginx", "latest", ""}, "nginx:latest", "registry-1.docker.io"},
		{"index.docker.io/library/nginx:x", Reference{"docker.io", "library/nginx", "x", ""}, "nginx:x", "registry-1.docker.io"},
		{"user/app:v1", Reference{"docker.io", "user/app", "v1", ""}, "user/app:v1", "registry-1.docker.io"},
		{"library/a/b", Reference{"docker.io", "library/a/b", "latest", ""}, "library/a/b:latest", "registry-1.docker.io"},
		{"docker.io/my.org/app", Reference{"docker.io", "my.org/app", "latest", ""}, "docker.io/my.org/app:latest", "registry-1.docker.io"},
		{"localhost/app", Reference{"localhost", "app", "latest", ""}, "localhost/app:latest", "localhost"},
		{"localhost:5000/a/b:t", Reference{"localhost:5000", "a/b", "t", ""}, "localhost:5000/a/b:t", "localhost:5000"},
		{"127.0.0.1:5000/x", Reference{"127.0.0.1:5000", "x", "latest", ""}, "127.0.0.1:5000/x:latest", "127.0.0.1:5000"},
		{"[::1]:5000/app:1", Reference{"[::1]:5000", "app", "1", ""}, "[::1]:5000/app:1", "[::1]:5000"},
		{"Registry/app", Reference{"Registry", "app", "latest", ""}, "Registry/app:latest", "Registry"},
		{"ghcr.io/o/app@" + dgA, Reference{"ghcr.io", "o/app", "", dgA}, "ghcr.io/o/app@" + dgA, "ghcr.io"},
		{"app:1@" + dgA, Reference{"docker.io", "library/app", "1", dgA}, "app:1@" + dgA, "registry-1.docker.io"},
		{"a__b/c-d/e.f---g_h:T_a.g-1", Reference{"docker.io", "a__b/c-d/e.f---g_h", "T_a.g-1", ""}, "a__b/c-d/e.f---g_h:T_a.g-1", "registry-1.docker.io"},
		{"r.io/x@sha384+b:" + strings.Repeat("A", 48), Reference{"r.io", "x", "", "sha384+b:" + strings.Repeat("A", 48)}, "r.io/x@sha384+b:" + strings.Repeat("A", 48), "r.io"},
	}
	for _, tt := range tests {
		got, err := ParseReference(tt.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseReference(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if f := got.Familiar(); f != tt.familiar {
			t.Errorf("ParseReference(%q).Familiar() = %q, want %q", tt.in, f, tt.familiar)
		}
		if h := got.APIHost(); h != tt.apiHost {
			t.Errorf("ParseReference(%q).APIHost() = %q, want %q", tt.in, h, tt.apiHost)
		}
	}
}

func TestParseReferenceRejects(t *testing.T) {
	for _, in := range []string{
		"", ":", "app:", ":tag", "UPPER", "a//b", "/a", "a/", "a___b", "a-.b", "-a", "a-",
		"app@sha256:short", "app@" + strings.ToUpper(dgA), "app@", "app@:x", "app@sha256",
		"app:-bad", "app:" + strings.Repeat("t", 129), "host:port/app", "host:99999999/app",
		"[::1/app", "[nothex]:5/app", "[::1]x/app", "ho_st.io/app", "-host.io/app",
		"app:t@sha256:" + strings.Repeat("g", 64), "a@b@" + dgA, "app\n", "app name",
		"r.io/" + strings.Repeat("a", 260), "r.io/x@a++b:xxxx",
	} {
		if got, err := ParseReference(in); err == nil {
			t.Errorf("ParseReference(%q) = %+v, want an error", in, got)
		} else if !errors.Is(err, ErrInvalidReference) {
			t.Errorf("ParseReference(%q): error %v does not wrap ErrInvalidReference", in, err)
		}
	}
}
