package gateway

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

var validImageStates = []redflagv1.ImageUpdateState{
	redflagv1.ImageUpToDate, redflagv1.ImageUpdateAvailable, redflagv1.ImageUpdateUnknown,
}

// applyDocker stores a docker scan's inventory on a: a new one when the
// scan succeeded with a different hash, none when the host reported no
// engine (Skipped), so containers of a removed engine do not linger. A
// failed scan keeps the last inventory.
func (g *Gateway) applyDocker(a *redflagv1.Agent, sr *scanReport, finished metav1.Time) {
	switch {
	case sr.Result == redflagv1.RunSkipped:
		a.Status.Docker = nil
	case sr.Result != redflagv1.RunSucceeded || sr.Docker == nil:
	case a.Status.Docker == nil || a.Status.Docker.Hash != sr.UpdatesHash:
		inv := clampDocker(*sr.Docker, sr.UpdatesHash, g.hostTime)
		if inv.ScannedAt = g.hostTime(sr.Docker.ScannedAt); inv.ScannedAt == nil {
			inv.ScannedAt = finished.DeepCopy()
		}
		a.Status.Docker = &inv
	}
}

// clampDocker keeps a host's docker inventory within the schema's bounds,
// so a host cannot make its Agent refuse to store or grow past its budget;
// times pass through hostTime, which drops any that cannot be stored.
func clampDocker(in redflagv1.DockerInventory, hash string, hostTime func(*metav1.Time) *metav1.Time) redflagv1.DockerInventory {
	out := redflagv1.DockerInventory{
		TotalContainers: max(in.TotalContainers, 0), TotalImages: max(in.TotalImages, 0),
		Truncated: in.Truncated || len(in.Containers) > redflagv1.MaxDockerContainers || len(in.Images) > redflagv1.MaxDockerImages,
		Hash:      truncate(hash, 64),
	}
	for _, c := range in.Containers[:min(len(in.Containers), redflagv1.MaxDockerContainers)] {
		if c.Name == "" {
			continue
		}
		if c.Update != "" && !slices.Contains(validImageStates, c.Update) {
			c.Update = redflagv1.ImageUpdateUnknown
		}
		out.Containers = append(out.Containers, redflagv1.DockerContainer{
			Name: truncate(c.Name, 128), Image: truncate(c.Image, 128), ImageID: truncate(c.ImageID, 80),
			ImageDigest: truncate(c.ImageDigest, 80), State: truncate(c.State, 16), Created: hostTime(c.Created),
			Restarts: max(c.Restarts, 0), Health: truncate(c.Health, 16), Update: c.Update,
		})
	}
	for _, im := range in.Images[:min(len(in.Images), redflagv1.MaxDockerImages)] {
		if im.ID == "" {
			continue
		}
		out.Images = append(out.Images, redflagv1.DockerImage{
			Repository: truncate(im.Repository, 128), Tag: truncate(im.Tag, 128), ID: truncate(im.ID, 80),
			Digest: truncate(im.Digest, 80), Size: max(im.Size, 0), Created: hostTime(im.Created),
		})
	}
	return out
}
