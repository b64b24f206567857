package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/agent/internal/scan/docker"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/dockertest"
)

// TestRealEngine runs the scanner against a real, private dockerd and an
// in-process registry: two images are built FROM scratch, pushed, and run;
// then a newer image is pushed under the second tag. Only the second
// container's image may be reported, with the digests the engine and the
// registry really hold.
func TestRealEngine(t *testing.T) {
	dockertest.Require(t)
	start := time.Now()
	reg := dockertest.StartRegistry(t)
	d := dockertest.Start(t, reg)
	t.Logf("dockerd up after %s", time.Since(start).Round(time.Millisecond))

	one, two := reg+"/redflag/one:1", reg+"/redflag/two:1"
	d.BuildScratch(t, one, "one")
	oldTwo := d.BuildScratch(t, two, "two-v1")
	d.Docker(t, "push", one)
	d.Docker(t, "push", two)
	// --init forwards SIGTERM to sleep, so the daemon stops quickly.
	d.Docker(t, "run", "-d", "--init", "--network", "none", "--name", "one", one)
	d.Docker(t, "run", "-d", "--init", "--network", "none", "--name", "two", two)
	oldDigest := d.RepoDigest(t, oldTwo, reg+"/redflag/two")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("DOCKER_HOST", d.Host) // the zero Runner must honour it
	empty := t.TempDir() + "/config.json"

	// Nothing newer yet: both up to date.
	got, err := docker.Runner{ConfigPath: empty}.Scan(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("before the new push: got %+v, %v; want nothing", got, err)
	}

	// Another build pushed under the second tag, as a CI job elsewhere
	// would. Locally the tag now names the new image while container
	// "two" still runs the old one.
	newTwo := d.BuildScratch(t, two, "two-v2")
	d.Docker(t, "push", two)
	newDigest := d.RepoDigest(t, newTwo, reg+"/redflag/two")
	if newDigest == oldDigest {
		t.Fatalf("the new build has the old digest %s", newDigest)
	}
	// The engine now lists container "two" by image ID, so the scanner
	// must recover the tag from the container's own record.
	if listed := d.Docker(t, "ps", "--no-trunc", "--filter", "name=^two$", "--format", "{{.Image}}"); listed == two {
		t.Fatalf("container two is still listed as %s; the moved-tag path is not exercised", listed)
	}
	want := protocol.PendingUpdate{
		Manager: protocol.ManagerDocker, Name: two,
		CurrentVersion: oldDigest, AvailableVersion: newDigest, Source: reg,
	}

	scanStart := time.Now()
	for _, r := range []docker.Runner{
		{ConfigPath: empty},
		{ConfigPath: empty, Images: true},
	} {
		checkOnly(t, ctx, r, want)
	}
	t.Logf("two scans took %s", time.Since(scanStart).Round(time.Millisecond))

	// Put the tag back on the image the container runs: the container
	// list then names the tag instead of the ID, and the image is still
	// behind the registry.
	d.Docker(t, "tag", oldTwo, two)
	checkOnly(t, ctx, docker.Runner{ConfigPath: empty}, want)
	t.Logf("whole test took %s", time.Since(start).Round(time.Millisecond))
}

// checkOnly scans with r and wants exactly the update want.
func checkOnly(t *testing.T, ctx context.Context, r docker.Runner, want protocol.PendingUpdate) {
	t.Helper()
	got, err := r.Scan(ctx)
	if err != nil {
		t.Fatalf("Runner%+v: %v", r, err)
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("Runner%+v:\n got %+v\nwant [%+v]", r, got, want)
	}
	if err := scan.Check(got[0]); err != nil {
		t.Fatal(err)
	}
}
