package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// hostileDocker is a docker inventory past every bound: too many
// containers and images, over-long strings, an unknown update state, an
// entry without a name, a time in the future and a negative size.
func hostileDocker() *protocol.DockerInventory {
	future := protocol.NewTime(time.Now().Add(24 * time.Hour))
	created := protocol.NewTime(time.Now().Add(-time.Hour))
	inv := &protocol.DockerInventory{TotalContainers: 62, TotalImages: 61}
	inv.Containers = append(inv.Containers,
		protocol.DockerContainer{Name: strings.Repeat("n", 300), Image: strings.Repeat("i", 300), State: strings.Repeat("s", 40), Health: strings.Repeat("h", 40), Update: "Bogus", Created: &future, Restarts: -3},
		protocol.DockerContainer{Image: "nameless"},
	)
	for i := range 60 {
		inv.Containers = append(inv.Containers, protocol.DockerContainer{Name: fmt.Sprintf("c%02d", i), Image: "nginx:1", State: "running", Created: &created, Update: protocol.ImageUpdateAvailable})
	}
	inv.Images = append(inv.Images, protocol.DockerImage{ID: "sha256:" + strings.Repeat("a", 200), Repository: strings.Repeat("r", 300), Size: -1})
	for i := range 60 {
		inv.Images = append(inv.Images, protocol.DockerImage{ID: fmt.Sprintf("sha256:%064d", i), Repository: "nginx", Tag: "1", Size: 1 << 20, Created: &created})
	}
	return inv
}

// TestDockerInventoryIsStoredBoundedAndCleared: a docker scan's inventory
// lands in status.docker within the schema's bounds however the host
// overshoots them (the real API server would refuse the write otherwise);
// the same inventory again writes nothing; a failed scan keeps it, and a
// host that reports no engine (Skipped) has it removed.
func TestDockerInventoryIsStoredBoundedAndCleared(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	report := func(key string, result protocol.RunResult, inv *protocol.DockerInventory, hash string) {
		t.Helper()
		_, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: key, Kind: protocol.ReportScan, Time: time.Now(), Scan: &protocol.ScanResult{
			Subsystem: "docker", ID: "docker-" + key, Result: result, Finished: time.Now(), Docker: inv, UpdatesHash: hash,
		}})
		if err != nil {
			t.Fatal(err)
		}
	}

	report("d1", protocol.RunSucceeded, hostileDocker(), "docker-1")
	d := getAgent(t, h.id.Agent).Status.Docker
	if d == nil {
		t.Fatal("status.docker not stored")
	}
	if len(d.Containers) != redflagv1.MaxDockerContainers-1 || len(d.Images) != redflagv1.MaxDockerImages || !d.Truncated ||
		d.TotalContainers != 62 || d.TotalImages != 61 || d.Hash != "docker-1" || d.ScannedAt == nil {
		t.Fatalf("stored %d containers, %d images, truncated %v, totals %d/%d, hash %q, scannedAt %v",
			len(d.Containers), len(d.Images), d.Truncated, d.TotalContainers, d.TotalImages, d.Hash, d.ScannedAt)
	}
	first := d.Containers[0]
	if len(first.Name) != 128 || len(first.Image) != 128 || len(first.State) != 16 || len(first.Health) != 16 ||
		first.Update != redflagv1.ImageUpdateUnknown || first.Created != nil || first.Restarts != 0 {
		t.Errorf("hostile container stored as %+v", first)
	}
	if d.Containers[1].Name != "c00" || d.Containers[1].Update != redflagv1.ImageUpdateAvailable || d.Containers[1].Created == nil {
		t.Errorf("second container stored as %+v (the nameless one must be dropped)", d.Containers[1])
	}
	if im := d.Images[0]; len(im.ID) != 80 || len(im.Repository) != 128 || im.Size != 0 {
		t.Errorf("hostile image stored as %+v", im)
	}

	before := writes.Load()
	report("d2", protocol.RunSucceeded, hostileDocker(), "docker-1")
	if got := getAgent(t, h.id.Agent).Status.Subsystems; len(got) != 1 || got[0].Name != "docker" {
		t.Fatalf("subsystems %+v", got)
	}
	if n := writes.Load() - before; n != 0 {
		t.Errorf("an unchanged docker inventory made %d API writes, want 0", n)
	}

	report("d3", protocol.RunFailed, nil, "")
	if d := getAgent(t, h.id.Agent).Status.Docker; d == nil || d.Hash != "docker-1" {
		t.Errorf("a failed docker scan dropped the last inventory: %+v", d)
	}
	report("d4", protocol.RunSkipped, nil, "")
	if d := getAgent(t, h.id.Agent).Status.Docker; d != nil {
		t.Errorf("status.docker kept after the host reported no engine: %d containers", len(d.Containers))
	}
}
