package install

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/install/docker"
	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/dockertest"
)

// These tests run against a real, private dockerd and an in-process
// registry (dockertest). Images are built FROM scratch around a static
// busybox and pushed; a newer build pushed to the same tag is the update.

// engineUp starts the registry and the engine and points the agent's
// environment at them.
func engineUp(t *testing.T) (*dockertest.Daemon, string) {
	t.Helper()
	dockertest.Require(t)
	reg := dockertest.StartRegistry(t)
	d := dockertest.Start(t, reg)
	t.Setenv("DOCKER_HOST", d.Host)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no registry logins
	return d, reg
}

// inspected is what a user checks of a container with docker inspect.
type inspected struct {
	ID    string `json:"Id"`
	Image string
	State struct {
		Running bool
	}
	Config struct {
		Image  string
		Env    []string
		Cmd    []string
		Labels map[string]string
	}
	HostConfig struct {
		PortBindings  map[string][]struct{ HostIp, HostPort string }
		RestartPolicy struct{ Name string }
		Init          *bool
	}
	Mounts []struct {
		Type, Name, Destination string
	}
	NetworkSettings struct {
		Networks map[string]struct{ Aliases []string }
	}
}

func inspect(t *testing.T, d *dockertest.Daemon, name string) inspected {
	t.Helper()
	var c []inspected
	if err := json.Unmarshal([]byte(d.Docker(t, "container", "inspect", name)), &c); err != nil || len(c) != 1 {
		t.Fatalf("inspecting %s: %v", name, err)
	}
	return c[0]
}

func dockerWork(names ...string) protocol.PackageWork {
	return protocol.PackageWork{Scope: protocol.ScopeNamed, Names: names, Managers: []protocol.PackageManager{protocol.ManagerDocker}}
}

func TestDockerRecreatesContainersOnTheNewImage(t *testing.T) {
	d, reg := engineUp(t)
	img := reg + "/redflag/web:1"
	oldImage := d.BuildScratch(t, img, "v1")
	d.Docker(t, "push", img)
	oldDigest := d.RepoDigest(t, oldImage, reg+"/redflag/web")
	d.Docker(t, "network", "create", "--internal", "redflag-front")
	d.Docker(t, "network", "create", "--internal", "redflag-back")
	d.Docker(t, "run", "-d", "--init", "--name", "web",
		"--network", "redflag-front", "--network-alias", "web-alias",
		"-e", "APP_MODE=production", "-p", "127.0.0.1:18080:80",
		"-v", "redflag-data:/data", "-v", "/cache",
		"--restart", "unless-stopped", "--label", "team=blue",
		img, "/bin/busybox", "sleep", "7200")
	d.Docker(t, "network", "connect", "--alias", "backend-alias", "redflag-back", "web")
	d.Docker(t, "exec", "web", "/bin/busybox", "sh", "-c", "echo named > /data/f && echo anonymous > /cache/f")
	old := inspect(t, d, "web")

	newImage := d.BuildScratch(t, img, "v2")
	d.Docker(t, "push", img)
	newDigest := d.RepoDigest(t, newImage, reg+"/redflag/web")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	want := []protocol.PackageChange{{Manager: protocol.ManagerDocker, Name: img, From: oldDigest, To: newDigest}}

	out, err := Run(ctx, dockerWork(img), true, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Changes, want) || out.Message != "dry run: would update 1 image with docker (recreate container web)" {
		t.Fatalf("dry run: %+v", out)
	}
	if inspect(t, d, "web").ID != old.ID {
		t.Fatal("the dry run recreated the container")
	}

	// A name without its tag selects every tag of the repository.
	out, err = Run(ctx, dockerWork(reg+"/redflag/web"), false, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Changes, want) || out.Message != "updated 1 image with docker (recreated container web)" {
		t.Fatalf("outcome: %+v", out)
	}

	now := inspect(t, d, "web")
	switch {
	case now.ID == old.ID:
		t.Fatal("container web was not recreated")
	case now.Image != newImage:
		t.Fatalf("web runs image %s, want the new %s", now.Image, newImage)
	case !now.State.Running:
		t.Fatal("web is not running")
	case now.Config.Image != img:
		t.Errorf("web was created from %q, want the reference %q", now.Config.Image, img)
	case !slices.Contains(now.Config.Env, "APP_MODE=production"):
		t.Errorf("env lost: %q", now.Config.Env)
	case !slices.Equal(now.Config.Cmd, []string{"/bin/busybox", "sleep", "7200"}):
		t.Errorf("command = %q, want the one given to docker run", now.Config.Cmd)
	case now.Config.Labels["team"] != "blue":
		t.Errorf("label lost: %v", now.Config.Labels)
	case now.Config.Labels["io.redflag.test.variant"] != "v2":
		t.Errorf("the image's own label should be the new image's: %v", now.Config.Labels)
	case now.HostConfig.RestartPolicy.Name != "unless-stopped":
		t.Errorf("restart policy = %q", now.HostConfig.RestartPolicy.Name)
	case now.HostConfig.Init == nil || !*now.HostConfig.Init:
		t.Error("--init lost")
	}
	if b := now.HostConfig.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostIp != "127.0.0.1" || b[0].HostPort != "18080" {
		t.Errorf("port bindings = %+v", now.HostConfig.PortBindings)
	}
	if !slices.Equal(mountsOf(old), mountsOf(now)) {
		t.Errorf("volumes: before %q, after %q", mountsOf(old), mountsOf(now))
	}
	if got := d.Docker(t, "exec", "web", "/bin/busybox", "cat", "/data/f", "/cache/f"); got != "named\nanonymous" {
		t.Errorf("volume data after the update: %q", got)
	}
	for net, alias := range map[string]string{"redflag-front": "web-alias", "redflag-back": "backend-alias"} {
		n, ok := now.NetworkSettings.Networks[net]
		if !ok || !slices.Contains(n.Aliases, alias) {
			t.Errorf("network %s (alias %s) = %+v, present %v", net, alias, n, ok)
		}
	}
	if all := d.Docker(t, "ps", "-a", "--format", "{{.Names}}"); all != "web" {
		t.Errorf("containers left: %q, want only web", all)
	}

	out, err = Run(ctx, dockerWork(img), false, quiet())
	if err != nil || len(out.Changes) != 0 || out.Message != noneMatched {
		t.Fatalf("second run: %+v, %v", out, err)
	}
}

// mountsOf lists a container's volumes as "name:destination".
func mountsOf(c inspected) []string {
	var out []string
	for _, m := range c.Mounts {
		out = append(out, m.Name+":"+m.Destination)
	}
	slices.Sort(out)
	return out
}

func TestDockerPutsTheOldContainerBack(t *testing.T) {
	d, reg := engineUp(t)
	fast := []installer.Installer{docker.Installer{Settle: 2 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cases := []struct {
		name, image string
		runArgs     []string
		newCmd      []string
		why         string
	}{
		// The engine refuses to start it: the program is not in the image.
		{"api", "/redflag/api:1", []string{"--stop-timeout", "1"}, []string{"/bin/missing"}, "starting its replacement"},
		// It starts, then exits at once (and the restart policy retries).
		{"worker", "/redflag/worker:1", []string{"--init"}, []string{"/bin/busybox", "sh", "-c", "exit 3"}, "kept exiting"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := reg + tc.image
			oldImage := d.BuildScratch(t, img, "v1")
			d.Docker(t, "push", img)
			args := append([]string{"run", "-d", "--name", tc.name, "--network", "none", "--restart", "unless-stopped", "-e", "KEEP=1"}, tc.runArgs...)
			d.Docker(t, append(args, img)...)
			old := inspect(t, d, tc.name)
			d.BuildScratchCmd(t, img, "v2-broken", tc.newCmd...)
			d.Docker(t, "push", img)

			out, err := run(ctx, dockerWork(img), false, quiet(), fast)
			var f *Failure
			if !errors.As(err, &f) || f.Reason != ReasonInstallFailed || f.Manager != protocol.ManagerDocker {
				t.Fatalf("err = %v, want a docker InstallFailed", err)
			}
			if !errors.Is(err, installer.ErrRolledBack) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("err = %v, want a rollback after %q", err, tc.why)
			}
			t.Logf("reported as: %s", out.Message)
			if len(out.Changes) != 0 || !strings.Contains(out.Message, "could not be recreated") || len(out.Message) > MaxMessageLen {
				t.Errorf("outcome = %+v", out)
			}
			now := inspect(t, d, tc.name)
			if now.ID != old.ID || now.Image != oldImage || !now.State.Running {
				t.Fatalf("%s after the rollback: id %s (was %s), image %s (was %s), running %v", tc.name, now.ID, old.ID, now.Image, oldImage, now.State.Running)
			}
			if left := d.Docker(t, "ps", "-a", "--filter", "name=redflag-", "--format", "{{.Names}}"); left != "" {
				t.Fatalf("containers left behind: %q", left)
			}
			d.Docker(t, "rm", "-f", tc.name)
		})
	}

	t.Run("auto-remove is refused", func(t *testing.T) {
		img := reg + "/redflag/temp:1"
		d.BuildScratch(t, img, "v1")
		d.Docker(t, "push", img)
		d.Docker(t, "run", "-d", "--rm", "--init", "--name", "temp", "--network", "none", img)
		old := inspect(t, d, "temp")
		d.BuildScratch(t, img, "v2")
		d.Docker(t, "push", img)
		if _, err := run(ctx, dockerWork(img), false, quiet(), fast); reason(t, err) != ReasonUnsupported {
			t.Fatalf("err = %v, want Unsupported", err)
		}
		if now := inspect(t, d, "temp"); now.ID != old.ID || !now.State.Running {
			t.Fatal("the --rm container was touched")
		}
	})
}
