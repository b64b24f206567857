package e2e

import (
	"context"
	"testing"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/dockertest"
)

// TestDockerScanFillsStatusDocker: a ScanSchedule with the docker
// subsystem makes the real agent list a real Docker engine's containers
// and images into the Agent's status.docker, which is what a user reads
// with kubectl: the running container with its image digest and
// UpToDate, the stopped one, the image; after a newer image is pushed under
// the tag and a scan is asked for, the container shows UpdateAvailable.
func TestDockerScanFillsStatusDocker(t *testing.T) {
	dockertest.Require(t)
	reg := dockertest.StartRegistry(t)
	d := dockertest.Start(t, reg)
	img := reg + "/redflag/api:1"
	id := d.BuildScratch(t, img, "v1")
	d.Docker(t, "push", img)
	digest := d.RepoDigest(t, id, reg+"/redflag/api")
	d.Docker(t, "run", "-d", "--init", "--network", "none", "--name", "api", img)
	d.Docker(t, "create", "--network", "none", "--name", "spare", img)

	c := startCluster(t)
	ctx := context.Background()
	token := applyToken(t, c, "dockerscan", tokenManifest)
	h := newHost(t, "d0c0e000000000000000000000000002")
	h.env = append(h.env, "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+t.TempDir())
	h.register(c, token)
	key := theOnlyAgent(t, c, "dockerscan")
	h.run()
	applyYAML(t, c, "dockerscan", `
apiVersion: redflag.io/v1alpha1
kind: ScanSchedule
metadata:
  name: containers
spec:
  subsystems:
    docker:
      interval: 1h
`)
	get := func() *redflagv1.Agent {
		var a redflagv1.Agent
		if err := c.env.Client.Get(ctx, key, &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	find := func(a *redflagv1.Agent, name string) *redflagv1.DockerContainer {
		if a.Status.Docker == nil {
			return nil
		}
		for i := range a.Status.Docker.Containers {
			if a.Status.Docker.Containers[i].Name == name {
				return &a.Status.Docker.Containers[i]
			}
		}
		return nil
	}
	start := time.Now()
	var a *redflagv1.Agent
	eventually(t, 90*time.Second, "status.docker to list the containers", func() bool {
		a = get()
		return find(a, "api") != nil && find(a, "spare") != nil
	})
	t.Logf("status.docker filled %s after the schedule", time.Since(start).Round(time.Millisecond))
	api, spare, inv := find(a, "api"), find(a, "spare"), a.Status.Docker
	if api.State != "running" || api.Image != img || api.ImageID != id || api.ImageDigest != digest || api.Update != redflagv1.ImageUpToDate {
		t.Errorf("api: %+v", api)
	}
	if spare.State != "created" || spare.Update != "" {
		t.Errorf("spare: %+v", spare)
	}
	if inv.TotalContainers != 2 || inv.TotalImages != 1 || len(inv.Images) != 1 ||
		inv.Images[0].Repository != reg+"/redflag/api" || inv.Images[0].Tag != "1" || inv.Images[0].Digest != digest || inv.Images[0].Size <= 0 {
		t.Errorf("inventory: %d containers, %d images %+v", inv.TotalContainers, inv.TotalImages, inv.Images)
	}
	if st := subsystem(a, "docker"); st == nil || st.Result != redflagv1.RunSucceeded {
		t.Errorf("docker subsystem %+v", st)
	}

	// A newer image under the tag, pushed elsewhere; a scan asked for.
	d.BuildScratch(t, img, "v2")
	d.Docker(t, "push", img)
	patchAgent(t, c, key, func(a *redflagv1.Agent) {
		if a.Annotations == nil {
			a.Annotations = map[string]string{}
		}
		a.Annotations[redflagv1.ScanNowAnnotation] = "docker-v2"
	})
	eventually(t, 60*time.Second, "the api container to show UpdateAvailable", func() bool {
		c := find(get(), "api")
		return c != nil && c.Update == redflagv1.ImageUpdateAvailable
	})
}
