package facts

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strconv"
	"strings"

	"github.com/redflag-io/redflag/internal/protocol"
)

// win11FirstBuild is the first Windows 11 build. Windows 11 keeps
// "Windows 10" in the registry's ProductName, so the build tells them apart.
const win11FirstBuild = 22000

// verNTWorkstation is RtlGetVersion's ProductType for a client edition.
const verNTWorkstation = 1

// currentVersion holds the values of the registry's CurrentVersion key the
// collector uses; a value missing there is left empty.
type currentVersion struct {
	ProductName      string
	DisplayVersion   string // "23H2"; Windows 10 20H2 and later
	ReleaseID        string // "1809"; older releases, and "2009" on newer ones
	CurrentBuild     string // "22631"
	UBR              uint64 // the monthly update revision, "4169" in 22631.4169
	HasUBR           bool
	InstallationType string // Client, Server, Server Core
}

// readCurrentVersion reads the CurrentVersion key. Only a failure to read
// ProductName is an error: the other values are missing on some releases.
func readCurrentVersion(api winAPI) (currentVersion, error) {
	var cv currentVersion
	var err error
	cv.ProductName, err = api.RegString(regCurrentVersion, "ProductName")
	if err != nil {
		err = fmt.Errorf("os version: %w", err)
	}
	optional := func(name string) string {
		s, _ := api.RegString(regCurrentVersion, name)
		return strings.TrimSpace(s)
	}
	cv.DisplayVersion = optional("DisplayVersion")
	cv.ReleaseID = optional("ReleaseId")
	cv.CurrentBuild = optional("CurrentBuildNumber")
	cv.InstallationType = optional("InstallationType")
	if ubr, uerr := api.RegInteger(regCurrentVersion, "UBR"); uerr == nil {
		cv.UBR, cv.HasUBR = ubr, true
	}
	return cv, err
}

// windowsOS describes the running Windows:
//
//	family:       windows
//	distribution: windows, or windows-server for server editions
//	version:      the feature release, "23H2" (DisplayVersion, else ReleaseId)
//	prettyName:   "Windows 11 Pro 23H2 (build 22631.4169)"
//	kernel:       "10.0.22631.4169" (major.minor.build.UBR)
//
// Arch is the agent binary's own (runtime.GOARCH), not the machine's: the
// gateway labels the host with it and picks the self-update binary by
// that label, and an amd64 agent emulated on ARM64 Windows must be
// offered amd64 builds.
func windowsOS(ver winVersion, cv currentVersion) protocol.OSInfo {
	build := uint64(ver.Build)
	if build == 0 {
		build, _ = strconv.ParseUint(cv.CurrentBuild, 10, 32)
	}
	kernel := fmt.Sprintf("%d.%d.%d", ver.Major, ver.Minor, build)
	buildStr := strconv.FormatUint(build, 10)
	if cv.HasUBR {
		kernel += "." + strconv.FormatUint(cv.UBR, 10)
		buildStr += "." + strconv.FormatUint(cv.UBR, 10)
	}

	version := cmp.Or(cv.DisplayVersion, cv.ReleaseID)
	product := cmp.Or(productName(strings.Join(strings.Fields(cv.ProductName), " "), build), "Windows")
	pretty := product
	if version != "" {
		pretty += " " + version
	}
	if build > 0 {
		pretty += " (build " + buildStr + ")"
	}
	if build == 0 || ver.Major == 0 {
		kernel = "" // RtlGetVersion always answers; this is only for safety
	}

	distribution := "windows"
	if isServer(ver, cv) {
		distribution = "windows-server"
	}
	return protocol.OSInfo{
		Family:       "windows",
		Distribution: distribution,
		Version:      clip(version, maxVersion),
		PrettyName:   clip(pretty, maxPrettyName),
		Kernel:       clip(kernel, maxKernel),
		Arch:         clip(runtime.GOARCH, maxArch),
	}
}

// productName corrects Windows 11's ProductName, which still begins
// "Windows 10" ("Windows 10 Pro" on 22631), and leaves every other name
// (Server, LTSC on older builds) as it is.
func productName(name string, build uint64) string {
	if rest, ok := strings.CutPrefix(name, "Windows 10"); ok && build >= win11FirstBuild &&
		(rest == "" || rest[0] == ' ') {
		return "Windows 11" + rest
	}
	return name
}

// isServer trusts RtlGetVersion's product type, and where it says nothing
// the registry's InstallationType ("Server", "Server Core", "Nano Server").
func isServer(ver winVersion, cv currentVersion) bool {
	if ver.ProductType != 0 {
		return ver.ProductType != verNTWorkstation
	}
	return strings.Contains(cv.InstallationType, "Server") || strings.Contains(cv.ProductName, "Server")
}

// windowsCPUModel reads the first processor's name, which Intel pads with
// leading and AMD with trailing spaces.
func windowsCPUModel(api winAPI) (string, error) {
	name, err := api.RegString(regProcessor0, "ProcessorNameString")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil // some virtual CPUs have no name
		}
		return "", fmt.Errorf("cpu model: %w", err)
	}
	return clip(strings.Join(strings.Fields(name), " "), maxCPUModel), nil
}
