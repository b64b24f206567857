// Command image builds the manager's container image without Docker or a
// registry, as ko does: static Go binaries on an empty base with CA
// certificates and a non-root user, assembled with go-containerregistry and
// written as one archive that is both an OCI image layout (index.json,
// blobs/) and a `docker save` archive (manifest.json), so `docker load`,
// `skopeo copy oci-archive:...`, `crane push` and containerd's `ctr import`
// all take it.
//
//	go run ./hack/image --version v0.1.0 --release-key /secure/redflag-release.key
//
// The image also carries this release's agent binaries (linux/amd64,
// linux/arm64, windows/amd64), signed with the release key into a store the
// manager serves when no store of the operator's is configured (see
// internal/release.Choose and docs/releases.md). Only the public half of
// the key goes into the image.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Version, "version", "v0.0.0-dev", "Release version stamped into the binaries and the agent release (vMAJOR.MINOR.PATCH[-PRE]).")
	fs.StringVar(&o.Repository, "repository", "ghcr.io/redflag-io/redflag-manager", "Image name recorded in the archive (the tag is the version).")
	fs.StringVar(&o.OutDir, "out", "dist", "Directory the archive is written to.")
	fs.StringVar(&o.ReleaseKey, "release-key", "", "Ed25519 private key file (`go run ./hack/release keygen`) that signs the bundled agent release. Empty: a development key in "+devKeyFile+", made on first use.")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "Platforms of the manager image (an OCI index holds one image each).")
	agents := fs.String("agent-platforms", "linux/amd64,linux/arm64,windows/amd64", "Platforms of the agent binaries bundled in the image.")
	fs.StringVar(&o.DockerPlatform, "docker-platform", "", "The one platform `docker load` takes from the archive (default: the first of --platforms).")
	fs.StringVar(&o.CACertificates, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the image (the manager trusts it for outbound TLS).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.Platforms, err = parsePlatforms(*platforms); err != nil {
		return fmt.Errorf("--platforms: %w", err)
	}
	if o.AgentPlatforms, err = parsePlatforms(*agents); err != nil {
		return fmt.Errorf("--agent-platforms: %w", err)
	}
	o.Log = stderr
	res, err := build(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n%s@%s\n", res.Archive, res.Reference, res.Digest)
	return nil
}

// platform is a GOOS/GOARCH pair.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

func parsePlatforms(s string) ([]platform, error) {
	var out []platform
	for _, f := range strings.Split(s, ",") {
		goos, arch, ok := strings.Cut(strings.TrimSpace(f), "/")
		if !ok || goos == "" || arch == "" || strings.Contains(arch, "/") {
			return nil, fmt.Errorf("%q is not OS/ARCH (linux/amd64)", f)
		}
		out = append(out, platform{OS: goos, Arch: arch})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no platform given")
	}
	return out, nil
}
