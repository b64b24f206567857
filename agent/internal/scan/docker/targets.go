package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// noneTag is how the engine lists an image without a tag.
const noneTag = "<none>:<none>"

// target is one tagged reference and the local images standing for it.
type target struct {
	ref      Reference
	imageIDs []string
}

// collectTargets gathers, in order of first appearance, the references
// of running containers (and of tagged local images when images is set)
// with the image IDs behind them. Containers started from an image ID or
// pinned to a digest have no tag that could move and are left out. A
// failing listing is returned as a problem; a container that vanished
// meanwhile is skipped.
func collectTargets(ctx context.Context, eng *Engine, images bool) ([]target, []error) {
	var (
		out      []target
		index    = map[string]int{}
		problems []error
	)
	add := func(name, imageID string) {
		ref, err := ParseReference(name)
		if err != nil {
			problems = append(problems, err)
			return
		}
		if ref.Digest != "" {
			return
		}
		key := ref.String()
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, target{ref: ref})
		}
		for _, id := range out[i].imageIDs {
			if id == imageID {
				return
			}
		}
		out[i].imageIDs = append(out[i].imageIDs, imageID)
	}

	containers, err := eng.Containers(ctx)
	if err != nil {
		return nil, []error{err}
	}
	for _, c := range containers {
		name := c.Image
		if looksLikeID(name, c.ImageID) {
			// The list shows the ID once the container's tag has moved
			// to another image; its creation record keeps the tag.
			d, err := eng.Container(ctx, c.ID)
			if errors.Is(err, ErrEngineNotFound) {
				continue
			}
			if err != nil {
				problems = append(problems, err)
				continue
			}
			name = d.Config.Image
		}
		if name == "" || looksLikeID(name, c.ImageID) {
			continue
		}
		add(name, c.ImageID)
	}
	if !images {
		return out, problems
	}
	imgs, err := eng.Images(ctx)
	if err != nil {
		return out, append(problems, fmt.Errorf("listing images: %w", err))
	}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if tag != noneTag {
				add(tag, img.ID)
			}
		}
	}
	return out, problems
}

// looksLikeID reports whether name is an image ID (full, or a short
// prefix of imageID) rather than a reference.
func looksLikeID(name, imageID string) bool {
	if strings.HasPrefix(name, "sha256:") {
		return true
	}
	hex := strings.TrimPrefix(imageID, "sha256:")
	return len(name) >= 12 && isHex(name) && strings.HasPrefix(hex, name)
}
