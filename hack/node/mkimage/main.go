// Command mkimage writes a single-layer image FROM scratch as an OCI
// archive (an OCI image layout in one tar, whose index names the image
// with the annotations `ctr images import` reads, plus the manifest.json
// of a `docker save` archive), for the test node of hack/node.sh, which
// imports its images instead of pulling them.
//
//	mkimage -o pause.tar -ref redflag.local/pause:1 -entrypoint /pause /path/to/pause=/pause
//
// Each argument SRC=DEST puts the file SRC into the image at DEST
// (mode 0755); -link DEST=TARGET adds symlinks.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/redflag-io/redflag/internal/ociarchive"
)

// Every file gets this time, so the same inputs give the same image.
var epoch = time.Unix(0, 0).UTC()

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	log.SetFlags(0)
	log.SetPrefix("mkimage: ")
	out := flag.String("o", "", "archive to write")
	ref := flag.String("ref", "", "image name, e.g. redflag.local/pause:1")
	entrypoint := flag.String("entrypoint", "", "entrypoint, words separated by spaces")
	var links listFlag
	flag.Var(&links, "link", "DEST=TARGET: a symlink in the image (repeatable)")
	flag.Parse()
	if *out == "" || *ref == "" {
		log.Fatal("-o and -ref are required")
	}
	if err := run(*out, *ref, strings.Fields(*entrypoint), flag.Args(), links); err != nil {
		log.Fatal(err)
	}
}

func run(out, ref string, entrypoint, files, links []string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	addDirs := func(name string) error {
		var parents []string
		for d := path.Dir(name); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
		}
		sort.Strings(parents)
		for _, d := range parents {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range files {
		src, dest, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("argument %q: want SRC=DEST", f)
		}
		dest = strings.TrimPrefix(path.Clean("/"+dest), "/")
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := addDirs(dest); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dest, Mode: 0o755, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	for _, l := range links {
		dest, target, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("-link %q: want DEST=TARGET", l)
		}
		dest = strings.TrimPrefix(path.Clean("/"+dest), "/")
		if err := addDirs(dest); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: dest, Linkname: target, Mode: 0o777, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "hack/node/mkimage"}})
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = "amd64", "linux", v1.Time{Time: epoch}
	cf.Config.Entrypoint = entrypoint
	cf.Config.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return err
	}
	return ociarchive.WriteImage(out, img, ref)
}
