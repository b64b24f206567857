package docker

import (
	"errors"
	"runtime"
	"testing"
)

func TestResolveHost(t *testing.T) {
	t.Setenv("DOCKER_TLS_VERIFY", "")
	for _, tt := range []struct {
		in   string
		want engineAddr
	}{
		{"unix:///run/x/docker.sock", engineAddr{"unix", "/run/x/docker.sock"}},
		{"unix://rel.sock", engineAddr{"unix", "rel.sock"}},
		{"tcp://127.0.0.1:2375", engineAddr{"tcp", "127.0.0.1:2375"}},
		{"tcp://[::1]:2375/", engineAddr{"tcp", "[::1]:2375"}},
	} {
		got, err := resolveHost(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("resolveHost(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"unix://", "ssh://me@host", "npipe:////./pipe/docker_engine", "tcp://", "tcp://h:1/path", "::"} {
		if got, err := resolveHost(in); !errors.Is(err, ErrUnsupportedHost) {
			t.Errorf("resolveHost(%q) = %+v, %v; want ErrUnsupportedHost", in, got, err)
		}
	}
	t.Setenv("DOCKER_TLS_VERIFY", "1")
	if _, err := resolveHost("tcp://127.0.0.1:2376"); !errors.Is(err, ErrUnsupportedHost) {
		t.Errorf("TLS tcp host: %v, want ErrUnsupportedHost", err)
	}

	t.Setenv("DOCKER_HOST", "unix:///from/env.sock")
	if got, err := resolveHost(""); err != nil || got.address != "/from/env.sock" {
		t.Errorf("DOCKER_HOST not honoured: %+v, %v", got, err)
	}
	t.Setenv("DOCKER_HOST", "")
	got, err := resolveHost("")
	if runtime.GOOS != "windows" && (err != nil || got.address != "/var/run/docker.sock") {
		t.Errorf("default host: %+v, %v", got, err)
	}
}
