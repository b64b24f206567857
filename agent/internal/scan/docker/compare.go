package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// comparison is the outcome of checking targets against registries.
type comparison struct {
	list     scan.List
	checked  int
	problems []error
	// remote maps each target checked (Reference.String()) to the digest
	// its registry serves.
	remote map[string]string
}

// compare asks the registry of every target for its tag's digest and
// records an update for each target whose local image was not pulled or
// pushed under that digest. Images without a repo digest for the
// target's repository (built locally, never pushed) cannot be compared
// and are skipped without a registry request. One failure never stops
// the others; once a registry is unreachable, its later targets are
// skipped rather than each waiting for a timeout.
func compare(ctx context.Context, eng *Engine, reg *Registry, targets []target) comparison {
	var (
		res     = comparison{remote: map[string]string{}}
		images  = map[string]Image{}
		hostErr = map[string]error{}
	)
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			res.problems = append(res.problems, fmt.Errorf("%s: not checked: %w", t.ref.Familiar(), context.Cause(ctx)))
			continue
		}
		local := localDigests(ctx, eng, images, t, &res.problems)
		if len(local) == 0 {
			continue
		}
		host := t.ref.APIHost()
		if err := hostErr[host]; err != nil {
			res.problems = append(res.problems, fmt.Errorf("%s: not checked: %w: %s failed earlier in this scan", t.ref.Familiar(), ErrUnreachable, host))
			continue
		}
		remote, err := reg.Digest(ctx, t.ref)
		if err != nil {
			if errors.Is(err, ErrUnreachable) {
				hostErr[host] = err
			}
			res.problems = append(res.problems, fmt.Errorf("%s: %w", t.ref.Familiar(), err))
			continue
		}
		res.checked++
		res.remote[t.ref.String()] = remote
		for _, digests := range local {
			if !slices.Contains(digests, remote) {
				res.list.Add(protocol.PendingUpdate{
					Manager:          protocol.ManagerDocker,
					Name:             t.ref.Familiar(),
					CurrentVersion:   digests[0],
					AvailableVersion: remote,
					Source:           t.ref.Domain,
				})
				break
			}
		}
	}
	return res
}

// localDigests returns, per local image of t that has any, the digests
// the image is known under in t's repository. Inspections are cached in
// images across targets.
func localDigests(ctx context.Context, eng *Engine, images map[string]Image, t target, problems *[]error) [][]string {
	var out [][]string
	for _, id := range t.imageIDs {
		img, ok := images[id]
		if !ok {
			var err error
			img, err = eng.Image(ctx, id)
			if errors.Is(err, ErrEngineNotFound) {
				continue // removed since it was listed
			}
			if err != nil {
				*problems = append(*problems, fmt.Errorf("%s: %w", t.ref.Familiar(), err))
				continue
			}
			images[id] = img
		}
		if d := repoDigests(img, t.ref); len(d) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// repoDigests picks the digests of img's RepoDigests ("repo@digest")
// whose repository is ref's. The engine writes them in familiar form, so
// both sides are normalized before comparing.
func repoDigests(img Image, ref Reference) []string {
	var out []string
	for _, rd := range img.RepoDigests {
		r, err := ParseReference(rd)
		if err != nil || r.Digest == "" || r.Name() != ref.Name() {
			continue
		}
		out = append(out, r.Digest)
	}
	return out
}
