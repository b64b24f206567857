package apt

import (
	"fmt"
	"io"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// Names of the apt-config shell variables the installer asks for.
const (
	varStatus = "STATUS"
	varArch   = "ARCH"
)

// configArgs asks apt-config where dpkg's status file is (the /f suffix
// makes it an absolute file path) and what the native architecture is.
// apt reads APT_CONFIG first, so a sandbox answers with its own paths.
var configArgs = []string{"shell", varStatus, "Dir::State::status/f", varArch, "APT::Architecture"}

// parseShell reads `apt-config shell` output: NAME='value' lines, where
// a single quote inside a value is written the shell's way: close the
// quotes, an escaped quote, reopen them.
func parseShell(out string) map[string]string {
	vars := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || len(value) < 2 || value[0] != '\'' || value[len(value)-1] != '\'' {
			continue
		}
		vars[name] = strings.ReplaceAll(value[1:len(value)-1], `'\''`, "'")
	}
	return vars
}

// queryFormat is the dpkg-query --showformat the installer reads.
const queryFormat = `${binary:Package}\t${Package}\t${Architecture}\t${Status}\t${Version}\n`

// state is what dpkg records of one package.
type state struct {
	// Status is the last word of dpkg's status: "installed",
	// "half-configured", "unpacked", "config-files", ...
	Status  string
	Version string
}

// installedStates reads dpkg-query output in queryFormat and maps each
// package to its state under every name apt may use for it:
// "libc6:amd64", and the bare "libc6" when it is of the native
// architecture or "all".
func installedStates(r io.Reader, native string) (map[string]state, error) {
	out := map[string]state{}
	err := scan.Lines(r, func(_ int, line string) error {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil
		}
		binary, pkg, arch := f[0], f[1], f[2]
		words := strings.Fields(f[3])
		if len(words) == 0 {
			return nil
		}
		st := state{Status: words[len(words)-1], Version: f[4]}
		out[binary] = st
		out[pkg+":"+arch] = st
		if !strings.Contains(binary, ":") || arch == native || arch == "all" {
			out[pkg] = st
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("dpkg-query output: %w", err)
	}
	return out, nil
}
