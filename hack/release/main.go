// Command release makes the release key and signed agent releases:
//
//	go run ./hack/release keygen --private-key FILE
//	go run ./hack/release sign --private-key FILE --binary PATH --version V --os OS --arch ARCH --dir RELEASE_DIR
//	go run ./hack/release verify --public-key BASE64 --dir RELEASE_DIR --version V --os OS --arch ARCH
//
// keygen prints the public key that hosts pin (releasePublicKey in the
// agent's config); sign copies the binary into the release store and writes
// its signed manifest, which the manager serves (internal/release.Handler).
// See docs/releases.md.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `release signs RedFlag agent releases.

Usage:
  release keygen --private-key FILE
        create a release key (file mode 0600, refused if FILE exists) and
        print its public key, base64: pin it on hosts as releasePublicKey
  release sign --private-key FILE --binary PATH --version V --os OS --arch ARCH --dir DIR [--replace]
        copy the binary into the store DIR as DIR/<version>/<os>-<arch>/ and
        write its signed manifest.json
  release verify --public-key BASE64 --dir DIR --version V|latest --os OS --arch ARCH
        check a published release as an agent would: signature, platform,
        size and SHA-256
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, with exit codes: 0 done, 1 failed, 2 usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "keygen":
		err = keygen(args[1:], stdout, stderr)
	case "sign":
		err = sign(args[1:], stdout, stderr)
	case "verify":
		err = verify(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "release: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case isUsage(err):
		fmt.Fprintf(stderr, "release %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "release %s: %v\n", args[0], err)
		return 1
	}
}
