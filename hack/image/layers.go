package main

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Every file in a layer gets this time, so layers are reproducible.
var layerTime = time.Unix(0, 0).UTC()

// entry is one file or directory of a layer.
type entry struct {
	name     string // relative, slash-separated
	mode     int64
	uid      int
	data     []byte // nil for a directory
	fromFile string // read the data from here instead
}

// baseLayer is what distroless/static gives: a passwd and group naming the
// non-root user, CA certificates, a sticky /tmp and the user's home.
func baseLayer(ca []byte) (v1.Layer, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonRootID, nonRootID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonRootID)
	return layer([]entry{
		{name: "etc", mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/ssl", mode: 0o755},
		{name: "etc/ssl/certs", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "home", mode: 0o755},
		{name: "home/nonroot", mode: 0o700, uid: nonRootID},
		{name: "tmp", mode: 0o1777},
	})
}

// fileLayer holds one file at name.
func fileLayer(src, name string, mode int64) (v1.Layer, error) {
	return layer([]entry{{name: name, mode: mode, fromFile: src}})
}

// dirLayer holds the tree at dir under prefix (with prefix's parents).
func dirLayer(dir, prefix string) (v1.Layer, error) {
	var entries []entry
	parts := strings.Split(prefix, "/")
	for i := range parts {
		entries = append(entries, entry{name: path.Join(parts[:i+1]...), mode: 0o755})
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			entries = append(entries, entry{name: name, mode: 0o755})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			entries = append(entries, entry{name: name, mode: int64(info.Mode().Perm()), fromFile: p})
		default:
			return fmt.Errorf("%s is neither a file nor a directory", p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return layer(entries)
}

// layer writes entries, in order, into a tar owned by root (or the
// entry's uid) and wraps it as a gzip-compressed OCI layer.
func layer(entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: layerTime, Format: tar.FormatPAX}
		data := e.data
		if e.fromFile != "" {
			var err error
			if data, err = os.ReadFile(e.fromFile); err != nil {
				return nil, err
			}
		}
		if data == nil && e.fromFile == "" {
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// encodeKey is the one-line base64 form hosts pin.
func encodeKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }
