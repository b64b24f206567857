package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u) || errors.Is(err, flag.ErrHelp)
}

func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			return usageError{"--" + name + " is required"}
		}
	}
	return nil
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("private-key", "", "file to create with the private key (mode 0600)")
	if err := parse(fs, args, "private-key"); err != nil {
		return err
	}
	pub, err := release.WriteNewKey(*keyFile)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(pub))
	fmt.Fprintf(stderr, "wrote %s; pin the public key above on hosts as releasePublicKey and keep the private key offline\n", *keyFile)
	return nil
}

func sign(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("private-key", "", "release private key file (from keygen)")
	o := release.PublishOptions{}
	fs.StringVar(&o.Binary, "binary", "", "agent binary to publish")
	fs.StringVar(&o.Version, "version", "", "release version, such as v1.2.3: build the binary with the same version (-X ...internal/version.Version): a binary that reports another version never confirms and is rolled back")
	fs.StringVar(&o.OS, "os", "", "GOOS the binary was built for (linux, windows, ...)")
	fs.StringVar(&o.Arch, "arch", "", "GOARCH the binary was built for (amd64, arm64, ...)")
	fs.StringVar(&o.Dir, "dir", "", "release store directory the manager serves")
	fs.BoolVar(&o.Replace, "replace", false, "overwrite a release already published under this version")
	if err := parse(fs, args, "private-key", "binary", "version", "os", "arch", "dir"); err != nil {
		return err
	}
	key, err := release.ReadKey(*keyFile, stderr)
	if err != nil {
		return err
	}
	o.Key = key
	m, err := release.Publish(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %s for %s: %d bytes, sha256 %s\n  %s\n", m.Version, release.Platform(m.OS, m.Arch), m.Size, m.SHA256,
		filepath.Join(o.Dir, m.Version, release.Platform(m.OS, m.Arch)))
	return nil
}

func verify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubFlag := fs.String("public-key", "", "release public key, base64 (what keygen printed)")
	dir := fs.String("dir", "", "release store directory")
	version := fs.String("version", "", "version to check, or latest")
	goos := fs.String("os", "", "GOOS")
	arch := fs.String("arch", "", "GOARCH")
	if err := parse(fs, args, "public-key", "dir", "version", "os", "arch"); err != nil {
		return err
	}
	pub, err := base64.StdEncoding.DecodeString(*pubFlag)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return usageError{"--public-key must be a base64 32-byte Ed25519 public key"}
	}
	v := *version
	if v == "latest" {
		if v, err = release.Latest(*dir, *goos, *arch); err != nil {
			return err
		}
	} else if v, err = release.CanonicalVersion(v); err != nil {
		return usageError{err.Error()}
	}
	relDir := filepath.Join(*dir, v, release.Platform(*goos, *arch))
	data, err := os.ReadFile(filepath.Join(relDir, protocol.ReleaseManifestFile))
	if err != nil {
		return err
	}
	m, err := release.Verify(data, pub)
	if err != nil {
		return err
	}
	if m.Version != v || m.OS != *goos || m.Arch != *arch {
		return fmt.Errorf("manifest says %s %s, but it is stored as %s %s", m.Version, release.Platform(m.OS, m.Arch), v, release.Platform(*goos, *arch))
	}
	size, sum, err := fileSum(filepath.Join(relDir, m.File))
	if err != nil {
		return err
	}
	if size != m.Size || sum != m.SHA256 {
		return fmt.Errorf("binary is %d bytes with sha256 %s; the manifest says %d bytes, %s", size, sum, m.Size, m.SHA256)
	}
	fmt.Fprintf(stdout, "ok: %s for %s, %d bytes, sha256 %s\n", m.Version, release.Platform(m.OS, m.Arch), m.Size, m.SHA256)
	return nil
}

func fileSum(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("reading %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
