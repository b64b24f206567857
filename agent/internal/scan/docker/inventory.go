package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// Inventory lists the engine's containers, stopped ones included, and its
// local images, and says for each running container whether its registry
// serves a newer image under its tag. The lists are cut to
// protocol.MaxDockerContainers and MaxDockerImages (running containers
// first, then by name; images by repository and tag) and every string to
// its schema bound. It returns an error wrapping scan.ErrNotInstalled
// without an engine, and the inventory together with a *PartialError when
// some registries or containers could not be read.
func (r Runner) Inventory(ctx context.Context) (*protocol.DockerInventory, error) {
	s, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	containers, err := s.eng.AllContainers(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker inventory: %w", err)
	}
	images, err := s.eng.Images(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker inventory: listing images: %w", err)
	}
	targets, problems := collectTargets(ctx, s.eng, false)
	res := compare(ctx, s.eng, s.reg, targets)
	problems = slices.Concat(s.problems, problems, res.problems)

	byID := make(map[string]Image, len(images))
	for _, img := range images {
		byID[img.ID] = img.Image
	}
	rows := imageRows(images)
	inv := &protocol.DockerInventory{
		TotalContainers: clamp32(len(containers)),
		TotalImages:     clamp32(len(rows)),
		Truncated:       len(containers) > protocol.MaxDockerContainers || len(rows) > protocol.MaxDockerImages,
		Images:          rows[:min(len(rows), protocol.MaxDockerImages)],
	}
	slices.SortFunc(containers, func(a, b Container) int {
		if ra, rb := a.State == "running", b.State == "running"; ra && !rb {
			return -1
		} else if rb && !ra {
			return 1
		}
		return cmp.Compare(containerName(a), containerName(b))
	})
	for _, c := range containers[:min(len(containers), protocol.MaxDockerContainers)] {
		// Restarts, health and the tag the container was created with
		// are only in its own record.
		d, err := s.eng.Container(ctx, c.ID)
		if errors.Is(err, ErrEngineNotFound) {
			continue // removed since it was listed
		}
		if err != nil {
			problems = append(problems, err)
		}
		inv.Containers = append(inv.Containers, containerRow(c, d, byID[c.ImageID], res.remote))
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("docker inventory: %w", context.Cause(ctx))
	}
	if len(problems) > 0 {
		return inv, &PartialError{Checked: res.checked, Errs: problems}
	}
	return inv, nil
}

// containerRow is c as the Agent's status shows it. remote holds the
// registry digest of every tag that could be checked.
func containerRow(c Container, d ContainerDetail, img Image, remote map[string]string) protocol.DockerContainer {
	image := c.Image
	if d.Config.Image != "" {
		image = d.Config.Image // the tag, even after it moved to a newer image
	}
	row := protocol.DockerContainer{
		Name:     scan.Clean(containerName(c), 128),
		Image:    scan.Clean(image, 128),
		ImageID:  scan.Clean(c.ImageID, 80),
		State:    scan.Clean(c.State, 16),
		Created:  unixTime(c.Created),
		Restarts: clamp32(d.RestartCount),
	}
	if d.State.Health != nil {
		row.Health = scan.Clean(d.State.Health.Status, 16)
	}
	ref, err := ParseReference(image)
	var local []string
	if err == nil {
		local = repoDigests(img, ref)
	}
	if len(local) > 0 {
		row.ImageDigest = scan.Clean(local[0], 80)
	}
	if c.State != "running" {
		return row
	}
	want, checked := remote[ref.String()]
	switch {
	case err != nil || !checked || len(local) == 0:
		row.Update = protocol.ImageUpdateUnknown
	case slices.Contains(local, want):
		row.Update = protocol.ImageUpToDate
	default:
		row.Update = protocol.ImageUpdateAvailable
	}
	return row
}

// imageRows lists images as `docker images` does, one row per tag and one
// for an untagged image, sorted by repository and tag with untagged ones
// last.
func imageRows(images []ImageSummary) []protocol.DockerImage {
	var rows []protocol.DockerImage
	for _, img := range images {
		row := protocol.DockerImage{ID: scan.Clean(img.ID, 80), Size: max(img.Size, 0), Created: unixTime(img.Created)}
		tagged := false
		for _, t := range img.RepoTags {
			ref, err := ParseReference(t)
			if t == noneTag || err != nil || ref.Tag == "" {
				continue
			}
			tagged = true
			r := row
			r.Repository = scan.Clean(strings.TrimSuffix(ref.Familiar(), ":"+ref.Tag), 128)
			r.Tag = scan.Clean(ref.Tag, 128)
			if d := repoDigests(img.Image, ref); len(d) > 0 {
				r.Digest = scan.Clean(d[0], 80)
			}
			rows = append(rows, r)
		}
		if !tagged {
			rows = append(rows, row)
		}
	}
	slices.SortFunc(rows, func(a, b protocol.DockerImage) int {
		if (a.Repository == "") != (b.Repository == "") {
			return cmp.Compare(b.Repository, a.Repository)
		}
		return cmp.Or(cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Tag, b.Tag), cmp.Compare(a.ID, b.ID))
	})
	return rows
}

// containerName is the container's first name without its slash.
func containerName(c Container) string {
	if len(c.Names) == 0 {
		return ""
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

func unixTime(sec int64) *protocol.Time {
	if sec <= 0 {
		return nil
	}
	t := protocol.NewTime(time.Unix(sec, 0).UTC())
	return &t
}

func clamp32(n int) int32 { return int32(min(max(n, 0), math.MaxInt32)) }
