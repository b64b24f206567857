package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// down is a loopback registry nobody listens on.
const down = "127.0.0.1:1"

// scene is a host with containers on a reachable fake registry and on
// one that is down.
func scene(t *testing.T) (*fakeEngine, *fakeRegistry) {
	f := newFakeRegistry(t, false)
	h := f.host()
	f.set("team/app:1", dgA)   // up to date
	f.set("team/web:2", dgB)   // moved on
	f.set("team/moved:1", dgB) // moved on, and pulled locally already
	f.set("team/extra:1", dgB) // only a local image, no container
	f.set("team/local:1", dgB) // built locally: cannot be compared
	e := &fakeEngine{
		containers: []Container{
			{ID: "c1", Image: h + "/team/app:1", ImageID: "sha256:111"},
			{ID: "c2", Image: h + "/team/web:2", ImageID: "sha256:222"},
			{ID: "c3", Image: "sha256:333", ImageID: "sha256:333"},
			{ID: "c4", Image: h + "/team/app@" + dgA, ImageID: "sha256:111"},
			{ID: "c5", Image: h + "/team/local:1", ImageID: "sha256:555"},
			{ID: "c6", Image: down + "/x:1", ImageID: "sha256:666"},
			{ID: "c7", Image: down + "/y:1", ImageID: "sha256:777"},
			{ID: "c8", Image: h + "/team/app:1", ImageID: "sha256:111"},
		},
		details: map[string]ContainerDetail{"c3": detail(h + "/team/moved:1")},
		images: []Image{
			{ID: "sha256:111", RepoTags: []string{h + "/team/app:1"}, RepoDigests: []string{h + "/team/app@" + dgA}},
			{ID: "sha256:222", RepoTags: []string{h + "/team/web:2"}, RepoDigests: []string{h + "/team/web@" + dgA}},
			{ID: "sha256:333", RepoDigests: []string{h + "/team/moved@" + dgA}},
			{ID: "sha256:555", RepoTags: []string{h + "/team/local:1"}},
			{ID: "sha256:666", RepoDigests: []string{down + "/x@" + dgA}},
			{ID: "sha256:777", RepoDigests: []string{down + "/y@" + dgA}},
			{ID: "sha256:999", RepoTags: []string{h + "/team/extra:1", "<none>:<none>"}, RepoDigests: []string{h + "/team/extra@" + dgA}},
		},
	}
	return e, f
}

func scanWith(t *testing.T, r Runner) ([]protocol.PendingUpdate, error) {
	t.Helper()
	if r.ConfigPath == "" {
		r.ConfigPath = filepath.Join(t.TempDir(), "absent.json") // not the host's logins
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Scan(ctx)
}

func outdated(name string) protocol.PendingUpdate {
	host, _, _ := strings.Cut(name, "/")
	return protocol.PendingUpdate{Manager: protocol.ManagerDocker, Name: name, CurrentVersion: dgA, AvailableVersion: dgB, Source: host}
}

func TestRunnerScan(t *testing.T) {
	e, f := scene(t)
	h := f.host()
	t.Setenv("DOCKER_HOST", e.serve(t)) // the zero Runner honours it

	for _, tt := range []struct {
		images bool
		want   []string
	}{
		{false, []string{h + "/team/web:2", h + "/team/moved:1"}},
		{true, []string{h + "/team/web:2", h + "/team/moved:1", h + "/team/extra:1"}},
	} {
		got, err := scanWith(t, Runner{Images: tt.images})
		var partial *PartialError
		if !errors.As(err, &partial) || !errors.Is(err, scan.ErrMalformed) || !errors.Is(err, ErrUnreachable) {
			t.Fatalf("Images=%v: err = %v; want a *PartialError for the registry that is down", tt.images, err)
		}
		// x:1 failed; y:1, on the same host, was skipped without a wait.
		if len(partial.Errs) != 2 || !strings.Contains(partial.Errs[1].Error(), "failed earlier") {
			t.Errorf("Images=%v: problems %v", tt.images, partial.Errs)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("Images=%v: got %+v, want %v", tt.images, got, tt.want)
		}
		for i, name := range tt.want {
			if got[i] != outdated(name) {
				t.Errorf("Images=%v: update %d = %+v, want %+v", tt.images, i, got[i], outdated(name))
			}
			if err := scan.Check(got[i]); err != nil {
				t.Error(err)
			}
		}
	}
	// Pinned digests and images that were never pushed are not asked for.
	for _, rt := range []string{"team/local:1", "team/app:" + dgA} {
		if f.wasAsked(rt) {
			t.Errorf("registry asked for %s", rt)
		}
	}
}

func TestRunnerNotInstalled(t *testing.T) {
	_, err := scanWith(t, Runner{Host: "unix://" + filepath.Join(t.TempDir(), "no.sock")})
	if !errors.Is(err, scan.ErrNotInstalled) {
		t.Fatalf("no socket: %v, want ErrNotInstalled", err)
	}
	if m := (Runner{}).Manager(); m != protocol.ManagerDocker {
		t.Errorf("Manager() = %q", m)
	}
}

func TestRunnerFailures(t *testing.T) {
	// The engine failing is a failed scan, not a partial one.
	e, _ := scene(t)
	e.fail = map[string]int{"/containers/json": 500}
	_, err := scanWith(t, Runner{Host: e.serve(t)})
	if err == nil || errors.Is(err, scan.ErrMalformed) || !strings.Contains(err.Error(), "fake engine failure") {
		t.Errorf("engine failure: %v", err)
	}

	// Every registry down: nothing was checked, so the scan failed.
	e, _ = scene(t)
	e.containers = e.containers[5:7]
	_, err = scanWith(t, Runner{Host: e.serve(t)})
	if err == nil || errors.Is(err, scan.ErrMalformed) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("all registries down: %v", err)
	}

	// A broken config.json: scanned anonymously, and said.
	e, _ = scene(t)
	e.containers = e.containers[:2]
	bad := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := scanWith(t, Runner{Host: e.serve(t), ConfigPath: bad})
	if len(got) != 1 || !errors.Is(err, scan.ErrMalformed) || !strings.Contains(err.Error(), "registry logins not used") {
		t.Errorf("broken config: %+v, %v", got, err)
	}

	if _, err := scanWith(t, Runner{Host: "ssh://me@host"}); !errors.Is(err, ErrUnsupportedHost) {
		t.Errorf("ssh host: %v, want ErrUnsupportedHost", err)
	}
}

func TestRunnerHonoursContext(t *testing.T) {
	e, _ := scene(t)
	host := e.serve(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Runner{Host: host, ConfigPath: "/nonexistent"}).Scan(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: %v", err)
	}
}
