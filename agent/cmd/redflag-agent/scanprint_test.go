package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scanrun"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestPrintDocker: `redflag-agent scan` shows the docker subsystem's
// containers and images as docker ps -a and docker images would, with
// the update state.
func TestPrintDocker(t *testing.T) {
	rep := scanrun.Report{Results: []scanrun.Result{{
		Subsystem: scanrun.Docker,
		Status:    scanrun.SubsystemStatus{Name: "docker", Result: protocol.RunSucceeded},
		Docker: &protocol.DockerInventory{
			TotalContainers: 2, TotalImages: 1,
			Containers: []protocol.DockerContainer{
				{Name: "web", Image: "nginx:1.27", State: "running", Health: "healthy", Restarts: 3, Update: protocol.ImageUpdateAvailable},
				{Name: "job", Image: "busybox:1", State: "exited"},
			},
			Images: []protocol.DockerImage{{Repository: "nginx", Tag: "1.27", ID: "sha256:0123456789abcdef0123", Size: 3 << 20}},
		},
	}}}
	var out bytes.Buffer
	if err := printReport(&out, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for _, want := range [][]string{
		{"containers: 2"},
		{"web", "nginx:1.27", "running", "healthy", "3", "UpdateAvailable"},
		{"job", "busybox:1", "exited", "-", "0", "-"},
		{"images: 1"},
		{"nginx", "1.27", "0123456789ab", "3.0 MiB"},
	} {
		found := false
		for _, l := range lines {
			if strings.Contains(strings.Join(strings.Fields(l), " "), strings.Join(want, " ")) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line %q in:\n%s", want, out.String())
		}
	}
}
