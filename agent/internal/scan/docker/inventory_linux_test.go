package docker_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan/docker"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/dockertest"
)

// TestRealEngineInventory lists the containers and images of a real,
// private dockerd: a running container on a pushed image that is current,
// one whose tag was pushed again since, one on an image never pushed, one
// created and never started, and one that fails, is restarted by the
// engine and fails its health check. Each must show what `docker ps -a`
// and `docker images` show, with the update state of the running ones.
func TestRealEngineInventory(t *testing.T) {
	dockertest.Require(t)
	start := time.Now()
	reg := dockertest.StartRegistry(t)
	d := dockertest.Start(t, reg)

	cur, moved, local := reg+"/redflag/current:1", reg+"/redflag/moved:1", "redflag/local:dev"
	curID := d.BuildScratch(t, cur, "current")
	movedOld := d.BuildScratch(t, moved, "moved-v1")
	localID := d.BuildScratch(t, local, "local")
	failsID := d.BuildScratchCmd(t, reg+"/redflag/fails:1", "fails", "/bin/busybox", "false")
	d.Docker(t, "push", cur)
	d.Docker(t, "push", moved)
	d.Docker(t, "push", reg+"/redflag/fails:1")
	for _, c := range [][]string{
		{"--name", "current", cur}, {"--name", "moved", moved}, {"--name", "local", local},
		// The image has no shell, so this health check fails: unhealthy.
		{"--name", "fails", "--restart", "on-failure:2", "--health-cmd", "/bin/busybox true", "--health-interval", "1s", "--health-retries", "1", reg + "/redflag/fails:1"},
	} {
		d.Docker(t, append([]string{"run", "-d", "--init", "--network", "none"}, c...)...)
	}
	d.Docker(t, "create", "--name", "idle", "--network", "none", cur)
	// A newer build under the running container's tag, pushed.
	d.BuildScratch(t, moved, "moved-v2")
	d.Docker(t, "push", moved)
	movedNew := d.Docker(t, "image", "inspect", "--format", "{{.Id}}", moved)

	t.Setenv("DOCKER_HOST", d.Host)
	r := docker.Runner{ConfigPath: t.TempDir() + "/config.json"}
	var inv *protocol.DockerInventory
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		got, err := r.Inventory(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Inventory: %v", err)
		}
		inv = got
		// The failing container settles once the engine gave up on it.
		if f := row(inv, "fails"); f != nil && f.State == "exited" && f.Restarts == 2 && f.Health == "unhealthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container fails never settled as exited, 2 restarts, unhealthy: %+v", row(inv, "fails"))
		}
		time.Sleep(500 * time.Millisecond) // polling the engine's state
	}
	t.Logf("inventory after %s: %d containers, %d images", time.Since(start).Round(time.Millisecond), inv.TotalContainers, inv.TotalImages)

	want := map[string]protocol.DockerContainer{
		"current": {Name: "current", Image: cur, ImageID: curID, ImageDigest: d.RepoDigest(t, curID, reg+"/redflag/current"), State: "running", Update: protocol.ImageUpToDate},
		"moved":   {Name: "moved", Image: moved, ImageID: movedOld, ImageDigest: d.RepoDigest(t, movedOld, reg+"/redflag/moved"), State: "running", Update: protocol.ImageUpdateAvailable},
		"local":   {Name: "local", Image: local, ImageID: localID, State: "running", Update: protocol.ImageUpdateUnknown},
		"idle":    {Name: "idle", Image: cur, ImageID: curID, ImageDigest: d.RepoDigest(t, curID, reg+"/redflag/current"), State: "created"},
		"fails":   {Name: "fails", Image: reg + "/redflag/fails:1", ImageID: failsID, ImageDigest: d.RepoDigest(t, failsID, reg+"/redflag/fails"), State: "exited", Restarts: 2, Health: "unhealthy"},
	}
	if inv.TotalContainers != 5 || len(inv.Containers) != 5 || inv.Truncated {
		t.Fatalf("containers: total %d, listed %d, truncated %v", inv.TotalContainers, len(inv.Containers), inv.Truncated)
	}
	for i, c := range inv.Containers {
		w := want[c.Name]
		if c.Created == nil || time.Since(c.Created.Time) > time.Hour || time.Since(c.Created.Time) < -time.Minute {
			t.Errorf("container %s: created %v", c.Name, c.Created)
		}
		c.Created = nil
		if c != w {
			t.Errorf("container %s:\n got %+v\nwant %+v", c.Name, c, w)
		}
		// Running containers come first.
		if i < 3 && c.State != "running" || i >= 3 && c.State == "running" {
			t.Errorf("container %d is %s (%s): running ones must come first", i, c.Name, c.State)
		}
	}

	// Images, as `docker images` lists them: the moved tag now names the
	// new build, and the old build is left untagged.
	type img struct{ repo, tag, id string }
	var got []img
	for _, im := range inv.Images {
		got = append(got, img{im.Repository, im.Tag, im.ID})
		if im.Size <= 0 || im.Created == nil {
			t.Errorf("image %s:%s: size %d, created %v", im.Repository, im.Tag, im.Size, im.Created)
		}
		if wantDigest := im.Repository != "redflag/local" && im.Repository != ""; (im.Digest != "") != wantDigest {
			t.Errorf("image %s:%s: digest %q", im.Repository, im.Tag, im.Digest)
		}
	}
	wantImages := []img{
		{reg + "/redflag/current", "1", curID}, {reg + "/redflag/fails", "1", failsID},
		{reg + "/redflag/moved", "1", movedNew}, {"redflag/local", "dev", localID}, {"", "", movedOld},
	}
	if !slices.Equal(got, wantImages) || inv.TotalImages != 5 {
		t.Errorf("images (total %d):\n got %v\nwant %v", inv.TotalImages, got, wantImages)
	}
}

func row(inv *protocol.DockerInventory, name string) *protocol.DockerContainer {
	for i := range inv.Containers {
		if inv.Containers[i].Name == name {
			return &inv.Containers[i]
		}
	}
	return nil
}
