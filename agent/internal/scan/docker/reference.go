package docker

import (
	"errors"
	"fmt"
	"strings"
)

// Docker Hub's names: references say docker.io, the API lives elsewhere.
const (
	hubDomain  = "docker.io"
	hubAPIHost = "registry-1.docker.io"
	// hubLegacy is the domain older clients wrote, and config.json's key.
	hubLegacy      = "index.docker.io"
	officialPrefix = "library/"
	defaultTag     = "latest"
)

// maxNameLen is the distribution spec's bound on a repository name,
// domain included.
const maxNameLen = 255

// ErrInvalidReference is wrapped by every error ParseReference returns.
var ErrInvalidReference = errors.New("invalid image reference")

// Reference is a normalized image reference: docker.io made explicit,
// library/ added to Docker Hub's official images, the tag defaulted to
// "latest" when neither a tag nor a digest is given.
type Reference struct {
	// Domain is the registry as written in references, with its port:
	// "docker.io", "ghcr.io", "127.0.0.1:5000".
	Domain string
	// Path is the repository inside the registry: "library/nginx".
	Path string
	// Tag may be empty when Digest is set.
	Tag string
	// Digest is "algorithm:hex" when the reference pins one.
	Digest string
}

// ParseReference reads an image reference the way the Docker engine does
// (distribution's reference grammar): the first path component is a
// registry domain when it holds a "." or ":", is "localhost", or has an
// upper-case letter; otherwise the image is on docker.io.
func ParseReference(s string) (Reference, error) {
	var ref Reference
	name, digest, hasDigest := strings.Cut(s, "@")
	if hasDigest {
		if err := checkDigest(digest); err != nil {
			return Reference{}, fmt.Errorf("%w %q: %w", ErrInvalidReference, s, err)
		}
		ref.Digest = digest
	}
	// A tag's colon comes after the last slash; one before it is a port.
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		ref.Tag = name[i+1:]
		name = name[:i]
		if !validTag(ref.Tag) {
			return Reference{}, fmt.Errorf("%w %q: bad tag", ErrInvalidReference, s)
		}
	}
	ref.Domain, ref.Path = splitDomain(name)
	if err := checkDomain(ref.Domain); err != nil {
		return Reference{}, fmt.Errorf("%w %q: %w", ErrInvalidReference, s, err)
	}
	if err := checkPath(ref.Path); err != nil {
		return Reference{}, fmt.Errorf("%w %q: %w", ErrInvalidReference, s, err)
	}
	if len(ref.Name()) > maxNameLen {
		return Reference{}, fmt.Errorf("%w %q: name over %d bytes", ErrInvalidReference, s, maxNameLen)
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = defaultTag
	}
	return ref, nil
}

// splitDomain separates the registry domain from the repository path and
// applies Docker Hub's defaults.
func splitDomain(name string) (domain, path string) {
	i := strings.IndexByte(name, '/')
	if i < 0 || (!strings.ContainsAny(name[:i], ".:") && name[:i] != "localhost" && strings.ToLower(name[:i]) == name[:i]) {
		domain, path = hubDomain, name
	} else {
		domain, path = name[:i], name[i+1:]
	}
	if domain == hubLegacy {
		domain = hubDomain
	}
	if domain == hubDomain && !strings.ContainsRune(path, '/') {
		path = officialPrefix + path
	}
	return domain, path
}

// Name is the full repository name: "docker.io/library/nginx".
func (r Reference) Name() string { return r.Domain + "/" + r.Path }

// String is the full reference: name, then ":tag" and "@digest" when set.
func (r Reference) String() string { return r.Name() + r.suffix() }

// Familiar is the short form the docker CLI prints: "nginx:latest",
// "user/app:1", "ghcr.io/o/app:2". It is the PendingUpdate's name.
func (r Reference) Familiar() string {
	name := r.Name()
	if r.Domain == hubDomain {
		name = r.Path
		// library/a/b is not an official image; only library/a shortens.
		if rest, ok := strings.CutPrefix(r.Path, officialPrefix); ok && !strings.Contains(rest, "/") {
			name = rest
		}
		// A first component that reads as a domain ("0.0/x") needs the
		// explicit docker.io to mean the same image again.
		if d, _ := splitDomain(name); d != hubDomain {
			name = r.Name()
		}
	}
	return name + r.suffix()
}

// APIHost is the host (and port) serving the registry API for r.
func (r Reference) APIHost() string {
	if r.Domain == hubDomain {
		return hubAPIHost
	}
	return r.Domain
}

func (r Reference) suffix() string {
	s := ""
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}
