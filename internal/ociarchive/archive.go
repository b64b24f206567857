// Package ociarchive writes container images as one tar that is both an
// OCI image layout (index.json, blobs/) and a `docker save` archive
// (manifest.json over the same blobs) — the shape `docker save` itself
// writes since Docker 25 — so older Docker engines (which read only
// manifest.json), skopeo, crane and `ctr images import` all load it. It
// serves the manager image (hack/image) and the test node's images
// (hack/node/mkimage), which are built here because no registry can be
// reached.
package ociarchive

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// layoutTime is every archive entry's time, so the same image gives the
// same bytes.
var layoutTime = time.Unix(0, 0).UTC()

// refAnnotations name the image in index.json for OCI tools and containerd.
func refAnnotations(ref string) layout.Option {
	return layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
		"io.containerd.image.name":          ref,
	})
}

// WriteIndex writes index (one image per platform), tagged ref, into the
// archive at dest; `docker load` takes dockerImage from it, one of the
// index's images (a docker-save archive holds one image per tag).
func WriteIndex(dest string, index v1.ImageIndex, ref string, dockerImage v1.Image) error {
	return write(dest, ref, dockerImage, func(lp layout.Path) error { return lp.AppendIndex(index, refAnnotations(ref)) })
}

// WriteImage writes one image, tagged ref, into the archive at dest.
func WriteImage(dest string, img v1.Image, ref string) error {
	return write(dest, ref, img, func(lp layout.Path) error { return lp.AppendImage(img, refAnnotations(ref)) })
}

func write(dest, ref string, dockerImage v1.Image, add func(layout.Path) error) error {
	dir, err := os.MkdirTemp("", "redflag-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := add(lp); err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	manifest, err := dockerManifest(dockerImage, ref)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o644); err != nil {
		return err
	}
	return tarDir(dir, dest)
}

// dockerManifest is the manifest.json of a `docker save` archive.
func dockerManifest(img v1.Image, ref string) ([]byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
	entry := struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{Config: blob(m.Config.Digest), RepoTags: []string{ref}}
	for _, l := range m.Layers {
		entry.Layers = append(entry.Layers, blob(l.Digest))
	}
	return json.Marshal([]any{entry})
}

// tarDir writes the files under dir into a tar at dest (atomically), in
// lexical order with fixed times, so the same image gives the same bytes.
func tarDir(dir, dest string) (err error) {
	tmp := dest + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: layoutTime, Mode: 0o644, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h.Typeflag, h.Size = tar.TypeReg, info.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}
