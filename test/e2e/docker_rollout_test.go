package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/dockertest"
)

// container is what a user checks with docker inspect.
type container struct {
	ID     string `json:"Id"`
	Name   string
	Image  string
	State  struct{ Running bool }
	Config struct {
		Env []string
	}
	HostConfig struct {
		PortBindings  map[string][]struct{ HostIp, HostPort string }
		RestartPolicy struct{ Name string }
	}
	Mounts []struct{ Type, Name, Destination string }
}

func inspectContainer(t *testing.T, d *dockertest.Daemon, name string) container {
	t.Helper()
	var cs []container
	if err := json.Unmarshal([]byte(d.Docker(t, "container", "inspect", name)), &cs); err != nil || len(cs) != 1 {
		t.Fatalf("inspecting %s: %v", name, err)
	}
	return cs[0]
}

// TestDockerRolloutRecreatesTheContainer: an AgentUpdate for an image,
// carried out by the real agent against a real Docker engine, recreates the
// container from the newer image under the same name with the same
// environment, port, volume and restart policy, and the old one is gone.
func TestDockerRolloutRecreatesTheContainer(t *testing.T) {
	dockertest.Require(t)
	reg := dockertest.StartRegistry(t)
	d := dockertest.Start(t, reg)
	img := reg + "/redflag/web:1"
	d.BuildScratch(t, img, "v1")
	d.Docker(t, "push", img)
	d.Docker(t, "run", "-d", "--init", "--name", "web",
		"-e", "APP_MODE=production", "-p", "127.0.0.1:18090:80", "-v", "redflag-e2e-data:/data",
		"--restart", "unless-stopped", img, "/bin/busybox", "sleep", "7200")
	old := inspectContainer(t, d, "web")
	newImage := d.BuildScratch(t, img, "v2")
	d.Docker(t, "push", img)

	c := startCluster(t)
	ctx := context.Background()
	token := applyToken(t, c, "docker", tokenManifest)
	h := newHost(t, "d0c0e000000000000000000000000001")
	h.env = append(h.env, "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+t.TempDir())
	h.register(c, token)
	key := theOnlyAgent(t, c, "docker")
	h.run()

	applyYAML(t, c, "docker", fmt.Sprintf(`
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
metadata:
  name: web-image
spec:
  agents: [%s]
  packages:
    scope: Named
    names: [%q]
    managers: [docker]
`, key.Name, img))
	var au redflagv1.AgentUpdate
	eventually(t, 150*time.Second, "the Docker rollout to end", func() bool {
		if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: "docker", Name: "web-image"}, &au); err != nil {
			t.Fatal(err)
		}
		return au.Status.Phase == redflagv1.RolloutSucceeded || au.Status.Phase == redflagv1.RolloutHalted
	})
	var a redflagv1.Agent
	if err := c.env.Client.Get(ctx, key, &a); err != nil {
		t.Fatal(err)
	}
	if au.Status.Phase != redflagv1.RolloutSucceeded {
		t.Fatalf("rollout %s; the host says %+v", au.Status.Phase, a.Status.CurrentWork)
	}
	if w := a.Status.CurrentWork; w == nil || len(w.Changes) != 1 || w.Changes[0].Manager != redflagv1.ManagerDocker || w.Changes[0].From == w.Changes[0].To {
		t.Errorf("currentWork %+v: want one docker change with the digests before and after", w)
	}

	now := inspectContainer(t, d, "web")
	switch {
	case now.ID == old.ID:
		t.Fatal("the container was not recreated")
	case now.Image != newImage:
		t.Errorf("web runs %s, want the new image %s", now.Image, newImage)
	case !now.State.Running:
		t.Error("web is not running")
	case !slices.Contains(now.Config.Env, "APP_MODE=production"):
		t.Errorf("environment lost: %q", now.Config.Env)
	case now.HostConfig.RestartPolicy.Name != "unless-stopped":
		t.Errorf("restart policy %q", now.HostConfig.RestartPolicy.Name)
	}
	if b := now.HostConfig.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostPort != "18090" || b[0].HostIp != "127.0.0.1" {
		t.Errorf("port bindings %+v", now.HostConfig.PortBindings)
	}
	if !slices.ContainsFunc(now.Mounts, func(m struct{ Type, Name, Destination string }) bool {
		return m.Name == "redflag-e2e-data" && m.Destination == "/data"
	}) {
		t.Errorf("volume lost: %+v", now.Mounts)
	}
	if all := d.Docker(t, "ps", "-a", "--format", "{{.Names}}"); all != "web" {
		t.Errorf("containers after the rollout: %q, want only web (the old one removed)", all)
	}
}
