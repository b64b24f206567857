package docker

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeEngine answers the engine API calls the scanner makes, from fixed
// data, over a unix socket.
type fakeEngine struct {
	containers []Container
	details    map[string]ContainerDetail
	images     []Image
	info       Info
	// fail maps a path to the status it answers with instead.
	fail map[string]int
}

// serve starts e on a socket in a short temporary directory and returns
// its DOCKER_HOST value.
func (e *fakeEngine) serve(t *testing.T) string {
	t.Helper()
	// sun_path holds 108 bytes: t.TempDir() names can be longer.
	dir, err := os.MkdirTemp("", "rfeng")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(e.handle))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return "unix://" + sock
}

func (e *fakeEngine) handle(w http.ResponseWriter, r *http.Request) {
	if code := e.fail[r.URL.Path]; code != 0 {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "fake engine failure"})
		return
	}
	var v any
	p := r.URL.Path
	switch {
	case p == "/info":
		v = e.info
	case p == "/containers/json":
		v = e.containers
	case p == "/images/json":
		v = e.images
	case strings.HasPrefix(p, "/containers/") && strings.HasSuffix(p, "/json"):
		d, ok := e.details[strings.TrimSuffix(strings.TrimPrefix(p, "/containers/"), "/json")]
		if !ok {
			notFound(w)
			return
		}
		v = d
	case strings.HasPrefix(p, "/images/") && strings.HasSuffix(p, "/json"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/images/"), "/json")
		for _, img := range e.images {
			if img.ID == id {
				v = img
			}
		}
		if v == nil {
			notFound(w)
			return
		}
	default:
		notFound(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"message":"No such object"}`))
}

func detail(image string) ContainerDetail {
	var d ContainerDetail
	d.Config.Image = image
	return d
}
