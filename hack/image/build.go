package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/redflag-io/redflag/internal/ociarchive"
	"github.com/redflag-io/redflag/internal/release"
)

// options say what build makes.
type options struct {
	Version, Repository, OutDir, ReleaseKey, CACertificates string
	Platforms, AgentPlatforms                               []platform
	// DockerPlatform is "os/arch"; empty means Platforms[0].
	DockerPlatform string
	Log            io.Writer
}

// result is what build wrote.
type result struct {
	Archive   string  // path of the archive
	Reference string  // repository:version
	Digest    v1.Hash // of the OCI index (what a registry reports after a push)
}

// The user the image runs as: distroless's "nonroot", which the chart's
// runAsUser and runAsNonRoot expect.
const nonRootID = 65532

// build compiles the binaries, signs the agent release and writes the
// archive.
func build(o options) (result, error) {
	version, err := release.CanonicalVersion(o.Version)
	if err != nil {
		return result{}, fmt.Errorf("--version: %w", err)
	}
	if o.ReleaseKey == "" {
		if o.ReleaseKey, err = devKey(o.Log); err != nil {
			return result{}, err
		}
	}
	key, err := release.ReadKey(o.ReleaseKey, o.Log)
	if err != nil {
		return result{}, err
	}
	ca, err := os.ReadFile(o.CACertificates)
	if err != nil {
		return result{}, fmt.Errorf("reading the CA bundle for the image: %w", err)
	}
	work, err := os.MkdirTemp("", "redflag-image-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(work)

	store := filepath.Join(work, "releases")
	if err := bundleAgents(o, version, key, store, work); err != nil {
		return result{}, err
	}
	releasesLayer, err := dirLayer(store, strings.TrimPrefix(release.BundledDir, "/"))
	if err != nil {
		return result{}, fmt.Errorf("packing the agent release: %w", err)
	}
	base, err := baseLayer(ca)
	if err != nil {
		return result{}, err
	}
	created := buildTime()
	index := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	images := map[string]v1.Image{}
	for _, p := range o.Platforms {
		bin := filepath.Join(work, "manager-"+p.OS+"-"+p.Arch)
		if err := goBuild(o.Log, p, version, bin, "."); err != nil {
			return result{}, err
		}
		managerLayer, err := fileLayer(bin, "redflag-manager", 0o755)
		if err != nil {
			return result{}, err
		}
		img, err := managerImage(p, version, created, base, releasesLayer, managerLayer)
		if err != nil {
			return result{}, err
		}
		images[p.String()] = img
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}
	dockerPlatform := o.DockerPlatform
	if dockerPlatform == "" {
		dockerPlatform = o.Platforms[0].String()
	}
	dockerImage, ok := images[dockerPlatform]
	if !ok {
		return result{}, fmt.Errorf("--docker-platform %s is not one of --platforms", dockerPlatform)
	}
	ref := o.Repository + ":" + version
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return result{}, err
	}
	archive := filepath.Join(o.OutDir, "redflag-manager-"+version+".oci.tar")
	if err := ociarchive.WriteIndex(archive, index, ref, dockerImage); err != nil {
		return result{}, err
	}
	digest, err := index.Digest()
	if err != nil {
		return result{}, err
	}
	return result{Archive: archive, Reference: ref, Digest: digest}, nil
}

// devKeyFile is the release key of images built without --release-key,
// made on first use and kept outside git (.cache/ is ignored).
const devKeyFile = ".cache/redflag-dev/release.key"

// devKey returns devKeyFile, creating it when missing, and says loudly
// that hosts pinning its public key trust whoever holds this checkout.
func devKey(log io.Writer) (string, error) {
	if _, err := os.Stat(devKeyFile); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(devKeyFile), 0o700); err != nil {
			return "", err
		}
		if _, err := release.WriteNewKey(devKeyFile); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(log, "image: WARNING: no --release-key; the bundled agents are signed with the development key %s.\n"+
		"image: hosts that install from this image trust only releases signed with it: use your offline release key for images you deploy (docs/releases.md).\n", devKeyFile)
	return devKeyFile, nil
}

// bundleAgents builds the agent for every agent platform and publishes it,
// signed, into store, with the public key beside the versions.
func bundleAgents(o options, version string, key ed25519.PrivateKey, store, work string) error {
	for _, p := range o.AgentPlatforms {
		bin := filepath.Join(work, "agent-"+p.OS+"-"+p.Arch, release.BinaryName(p.OS))
		if err := goBuild(o.Log, p, version, bin, "./agent/cmd/redflag-agent"); err != nil {
			return err
		}
		if _, err := release.Publish(release.PublishOptions{Dir: store, Binary: bin, Version: version, OS: p.OS, Arch: p.Arch, Key: key}); err != nil {
			return fmt.Errorf("signing the %s agent: %w", p, err)
		}
	}
	pub := key.Public().(ed25519.PublicKey)
	return os.WriteFile(filepath.Join(store, release.BundledKeyFile), []byte(encodeKey(pub)+"\n"), 0o644)
}

// goBuild builds pkg for p as a static binary stamped with version, the
// way the Makefile's build target does.
func goBuild(log io.Writer, p platform, version, out, pkg string) error {
	fmt.Fprintf(log, "image: building %s for %s\n", pkg, p)
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/redflag-io/redflag/internal/version.Version="+version,
		"-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s for %s: %w", pkg, p, err)
	}
	return nil
}

// buildTime is SOURCE_DATE_EPOCH when set (reproducible builds), else the
// Unix epoch, so building the same sources twice gives the same digest.
func buildTime() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err == nil && sec >= 0 && sec < 1<<33 {
			return time.Unix(sec, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}

// managerImage stacks the layers and sets what the chart relies on: the
// entrypoint and the non-root user.
func managerImage(p platform, version string, created time.Time, layers ...v1.Layer) (v1.Image, error) {
	oci := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(oci, layers...)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = p.OS, p.Arch
	cfg.Created = v1.Time{Time: created}
	cfg.Config.Entrypoint = []string{"/redflag-manager"}
	cfg.Config.User = fmt.Sprintf("%d:%d", nonRootID, nonRootID)
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   "redflag-manager",
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.source":  "https://github.com/redflag-io/redflag",
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: created})
}
