package release

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/redflag-io/redflag/internal/protocol"
)

// Error codes of Handler's JSON refusals (protocol.Error).
const (
	CodeNotFound         = "NotFound"
	CodeMethodNotAllowed = "MethodNotAllowed"
)

// Handler serves the store at dir:
//
//	GET|HEAD <protocol.ReleasesPrefix><version|latest>/<os>-<arch>/<manifest.json|redflag-agent>
//
// It serves nothing else: the version must be a release version (with or
// without its "v") or "latest" (see Latest), os and arch are [a-z0-9]+,
// and the file one of the two names (or BinaryName(os), redflag-agent.exe
// for windows, for the binary); any other path, a percent-encoded one
// included, is a JSON 404. Files are opened through os.Root, so
// neither ".." nor a symlink can lead outside dir. The store is read on
// each request: publishing a release needs no restart.
//
// The artifacts are public and signed, so the handler needs no
// authentication; it expects the full request path (mount it on
// protocol.ReleasesPrefix without stripping the prefix).
func Handler(dir string) http.Handler { return handler{dir: dir} }

type handler struct{ dir string }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "releases are read with GET or HEAD")
		return
	}
	req, ok := parseReleasePath(r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such release file: want "+protocol.ReleasesPrefix+"<version|latest>/<os>-<arch>/<"+protocol.ReleaseManifestFile+"|"+protocol.ReleaseBinaryFile+">")
		return
	}
	root, err := os.OpenRoot(h.dir)
	if err != nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "no releases are published on this gateway")
		return
	}
	defer root.Close()
	version := req.version
	if version == "latest" {
		if version, err = latestIn(root, req.os, req.arch); err != nil {
			writeError(w, http.StatusNotFound, CodeNotFound, "no release for "+Platform(req.os, req.arch))
			return
		}
	}
	name := req.file
	if name == protocol.ReleaseBinaryFile {
		name = BinaryName(req.os)
	}
	f, err := root.Open(filepath.Join(version, Platform(req.os, req.arch), name))
	if err != nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "release "+version+" has no "+req.file+" for "+Platform(req.os, req.arch))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, CodeNotFound, "release "+version+" has no "+req.file+" for "+Platform(req.os, req.arch))
		return
	}
	if req.file == protocol.ReleaseManifestFile {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if req.version == "latest" {
		// "latest" moves; a versioned file does not.
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// releaseRequest is a parsed release path.
type releaseRequest struct {
	version  string // canonical, or "latest"
	os, arch string
	file     string // protocol.ReleaseManifestFile or protocol.ReleaseBinaryFile
}

// parseReleasePath accepts exactly <prefix><version|latest>/<os>-<arch>/<file>.
// It works on the escaped path and allows only [A-Za-z0-9._-/]: an encoded
// byte ("%2e%2e", "%2f") never reaches the file system as something else.
func parseReleasePath(escaped string) (releaseRequest, bool) {
	rest, ok := strings.CutPrefix(escaped, protocol.ReleasesPrefix)
	if !ok || strings.IndexFunc(rest, func(c rune) bool { return !isPathChar(c) }) >= 0 {
		return releaseRequest{}, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return releaseRequest{}, false
	}
	var req releaseRequest
	req.version = parts[0]
	if req.version != "latest" {
		v, err := CanonicalVersion(parts[0])
		if err != nil {
			return releaseRequest{}, false
		}
		req.version = v
	}
	req.os, req.arch, ok = strings.Cut(parts[1], "-")
	if !ok || !platformPart.MatchString(req.os) || !platformPart.MatchString(req.arch) {
		return releaseRequest{}, false
	}
	switch req.file = parts[2]; req.file {
	case protocol.ReleaseManifestFile, protocol.ReleaseBinaryFile:
	case BinaryName(req.os):
		// The platform's own name (redflag-agent.exe on Windows) is the
		// same file.
		req.file = protocol.ReleaseBinaryFile
	default:
		return releaseRequest{}, false
	}
	return req, true
}

func isPathChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/'
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(protocol.Error{Code: code, Message: msg})
}
