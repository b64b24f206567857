package docker

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeRegistry is a registry API v2 with a token server, for the parts
// of the protocol the scanner speaks. Its zero settings demand an
// anonymous Bearer token.
type fakeRegistry struct {
	srv *httptest.Server

	mu sync.Mutex
	// tags maps "repo:tag" to the digest served.
	tags map[string]string
	// basicOnly answers with a Basic challenge instead of Bearer.
	basicOnly bool
	// login, when set ("user:pass"), is required by the token server (or
	// by the registry itself with basicOnly).
	login string
	// noHeadDigest leaves Docker-Content-Digest off HEAD answers.
	noHeadDigest bool
	// body is what GET serves as the manifest.
	body []byte
	// tokenCalls, pingCalls and manifestCalls count requests.
	tokenCalls, pingCalls, manifestCalls int
	// asked records the repo:tag of every manifest request.
	asked []string
	// realm overrides the token realm (default: this server's /token).
	realm string
}

const fakeToken = "tok-123"

// manifestAccept lists the manifest types a tag may point to; the
// scanner must accept them all, so that the registry answers with the
// digest the engine recorded when it pulled the tag.
var manifestAccept = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// newFakeRegistry serves the fake on 127.0.0.1, over TLS when tls is
// set (httptest's certificate is for 127.0.0.1 and example.com).
func newFakeRegistry(t *testing.T, tls bool) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{tags: map[string]string{}, body: []byte(`{"schemaVersion":2}`)}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", f.token)
	mux.HandleFunc("/v2/", f.manifest)
	if tls {
		f.srv = httptest.NewTLSServer(mux)
	} else {
		f.srv = httptest.NewServer(mux)
	}
	t.Cleanup(f.srv.Close)
	return f
}

// host is the fake's host:port (on 127.0.0.1, so plain HTTP is allowed).
func (f *fakeRegistry) host() string { return f.srv.Listener.Addr().String() }

func (f *fakeRegistry) set(repoTag, digest string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags[repoTag] = digest
}

func (f *fakeRegistry) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenCalls++
	if r.URL.Query().Get("service") != "fake" || !strings.HasPrefix(r.URL.Query().Get("scope"), "repository:") {
		http.Error(w, "bad token request "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	if f.login != "" && r.Header.Get("Authorization") != basicOf(f.login) {
		http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": fakeToken, "expires_in": 300})
}

// manifest serves /v2/ (the version check clients start with) and
// /v2/<repo>/manifests/<tag>, both behind the challenge.
func (f *fakeRegistry) manifest(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ping := r.URL.Path == "/v2/"
	repo, tag, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
	switch {
	case ping:
		f.pingCalls++
	case !ok:
		http.NotFound(w, r)
		return
	default:
		f.manifestCalls++
		f.asked = append(f.asked, repo+":"+tag)
		accept := strings.Join(r.Header.Values("Accept"), ",")
		for _, m := range manifestAccept {
			if !strings.Contains(accept, m) {
				http.Error(w, "missing Accept "+m, http.StatusBadRequest)
				return
			}
		}
	}
	want := "Bearer " + fakeToken
	if f.basicOnly {
		want = basicOf(f.login)
	}
	if r.Header.Get("Authorization") != want {
		if f.basicOnly {
			w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
		} else {
			realm := f.realm
			if realm == "" {
				realm = f.srv.URL + "/token"
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s",service="fake"`, realm))
		}
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ping {
		return
	}
	digest, ok := f.tags[repo+":"+tag]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`))
		return
	}
	if r.Method == http.MethodHead && f.noHeadDigest {
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Method == http.MethodHead || digest != "" {
		w.Header().Set("Docker-Content-Digest", digest)
	}
	w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(f.body)
	}
}

func (f *fakeRegistry) counts() (token, manifest int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.manifestCalls
}

func (f *fakeRegistry) pings() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pingCalls
}

func (f *fakeRegistry) wasAsked(repoTag string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.asked, repoTag)
}

func basicOf(login string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login))
}
