package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/config"
	"github.com/redflag-io/redflag/agent/internal/daemon"
	"github.com/redflag-io/redflag/internal/protocol"
)

func TestLabelsFlagParsing(t *testing.T) {
	for _, tc := range []struct {
		values []string // one per --labels
		want   map[string]string
	}{
		{[]string{"env=prod"}, map[string]string{"env": "prod"}},
		{[]string{"env=prod,team.example.com/owner=db"}, map[string]string{"env": "prod", "team.example.com/owner": "db"}},
		{[]string{" env=prod , tier=web ,"}, map[string]string{"env": "prod", "tier": "web"}},
		{[]string{"env=prod", "tier=web"}, map[string]string{"env": "prod", "tier": "web"}},
		{[]string{"empty="}, map[string]string{"empty": ""}},
		{[]string{""}, map[string]string{}},
	} {
		var got map[string]string
		f := labelsFlag{&got}
		for _, v := range tc.values {
			if err := f.Set(v); err != nil {
				t.Fatalf("--labels %q: %v", v, err)
			}
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("--labels %q = %v, want %v", tc.values, got, tc.want)
		}
	}
	tooMany := make([]string, 0, protocol.MaxRegisterLabels+1)
	for i := range protocol.MaxRegisterLabels + 1 {
		tooMany = append(tooMany, "l"+strings.Repeat("x", i)+"=v")
	}
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{[]string{"env"}, `"env" is not key=value`},
		{[]string{"env=prod,env=dev"}, `label "env" is given twice`},
		{[]string{"env=prod", "env=dev"}, `label "env" is given twice`},
		{[]string{"redflag.io/os=windows"}, `"redflag.io/os" is reserved`},
		{[]string{"bad key=x"}, `"bad key" is not a valid Kubernetes label key`},
		{[]string{"env=has space"}, `env="has space" has an invalid value`},
		{[]string{strings.Join(tooMany, ",")}, "33 given, at most 32"},
	} {
		var got map[string]string
		f := labelsFlag{&got}
		var err error
		for _, v := range tc.values {
			if err = f.Set(v); err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--labels %q: error %v, want one saying %q", tc.values, err, tc.want)
		}
	}
}

// fakeGateway answers registrations and records what they asked for.
type fakeGateway struct {
	srv     *httptest.Server
	caFile  string
	mu      sync.Mutex
	created bool
	got     []protocol.RegisterRequest
}

// requests are the registrations received so far.
func (g *fakeGateway) requests() []protocol.RegisterRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]protocol.RegisterRequest(nil), g.got...)
}

// answerCreated sets the answer's Created from now on.
func (g *fakeGateway) answerCreated(created bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.created = created
}

func newFakeGateway(t *testing.T) *fakeGateway {
	t.Helper()
	g := &fakeGateway{created: true}
	g.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req protocol.RegisterRequest
		if r.URL.Path != protocol.PathRegister || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "not a registration", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.got = append(g.got, req)
		_ = json.NewEncoder(w).Encode(protocol.RegisterResponse{
			Namespace: "fleet", AgentName: "host-0123abcd", Created: g.created,
			WorkPublicKey:   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			CheckInInterval: protocol.Duration{Duration: time.Minute},
		})
	}))
	t.Cleanup(g.srv.Close)
	g.caFile = filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(g.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRegisterSendsLabels runs `redflag-agent register --labels ...` against
// a fake gateway: the labels reach the registration request; bad ones stop
// the command with exit 2 before anything is sent or written; and a host
// whose Agent existed already is told its labels were not applied.
func TestRegisterSendsLabels(t *testing.T) {
	gw := newFakeGateway(t)
	dir := t.TempDir()
	configFile := filepath.Join(dir, "agent.json")
	register := registerWith(t, gw, dir, configFile)

	// Refused before anything is sent or written.
	code, _, stderr := register("env=prod,redflag.io/os=windows")
	if code != 2 || !strings.Contains(stderr, `invalid value "env=prod,redflag.io/os=windows" for flag -labels`) || !strings.Contains(stderr, `"redflag.io/os" is reserved`) {
		t.Errorf("reserved label: exit %d, stderr %q; want exit 2 naming the label", code, stderr)
	}
	if n := len(gw.requests()); n != 0 {
		t.Errorf("a refused --labels still sent %d registrations", n)
	}
	if _, err := os.Stat(configFile); !os.IsNotExist(err) {
		t.Errorf("a refused --labels wrote the config (stat: %v)", err)
	}

	// Good labels reach the gateway.
	code, stdout, stderr := register("env=prod,team.example.com/owner=db", "tier=web")
	if code != 0 {
		t.Fatalf("register: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "enrolled as Agent fleet/host-0123abcd") || strings.Contains(stderr, "not applied") {
		t.Errorf("register with labels on a new Agent: stdout %q, stderr %q", stdout, stderr)
	}
	want := map[string]string{"env": "prod", "team.example.com/owner": "db", "tier": "web"}
	if got := gw.requests(); len(got) != 1 || !maps.Equal(got[0].Labels, want) {
		t.Fatalf("the gateway was asked for %+v, want one registration with labels %v", got, want)
	}

	// The Agent exists already: the gateway leaves its labels, and the
	// host's operator is told so.
	gw.answerCreated(false)
	code, _, stderr = register("env=dev")
	if code != 0 || !strings.Contains(stderr, "Agent fleet/host-0123abcd existed already, so --labels were not applied") ||
		!strings.Contains(stderr, "kubectl label agent -n fleet host-0123abcd") {
		t.Errorf("re-register with labels: exit %d, stderr %q; want a warning that they were not applied", code, stderr)
	}
	// Without --labels no labels are sent, and nothing is said of them.
	code, _, stderr = register()
	got := gw.requests()
	if code != 0 || strings.Contains(stderr, "labels") || len(got) != 3 || got[2].Labels != nil {
		t.Errorf("register without --labels: exit %d, stderr %q, registrations %+v", code, stderr, got)
	}
}

// registerWith returns a function that runs `redflag-agent register` for a
// host in dir (its own machine ID) against gw, with one --labels flag per
// argument; it returns the exit code, stdout and stderr.
func registerWith(t *testing.T, gw *fakeGateway, dir, configFile string) func(labels ...string) (int, string, string) {
	t.Helper()
	machineID := filepath.Join(dir, "machine-id")
	if err := os.WriteFile(machineID, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(daemon.EnvMachineIDFile, machineID)
	return func(labels ...string) (int, string, string) {
		args := []string{"register", "--config", configFile, "--state-dir", filepath.Join(dir, "state"),
			"--server", gw.srv.URL, "--token", "abcdef.0123456789abcdef0123456789abcdef", "--ca-file", gw.caFile}
		for _, l := range labels {
			args = append(args, "--labels", l)
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
}

// TestRegisterSendsTheConfigsLabels: labels in the config file (written by
// config management, or carried over from a v1 config's metadata) are
// asked for at enrollment, --labels overriding a key; a bad one in the
// file stops the command before anything is sent; and a host whose Agent
// existed already is told the config's labels were not applied.
func TestRegisterSendsTheConfigsLabels(t *testing.T) {
	gw := newFakeGateway(t)
	dir := t.TempDir()
	configFile := filepath.Join(dir, "agent.json")
	register := registerWith(t, gw, dir, configFile)
	writeLabels := func(labels map[string]string) {
		t.Helper()
		cfg := config.New()
		cfg.Labels = labels
		if err := cfg.Save(configFile); err != nil {
			t.Fatal(err)
		}
	}

	writeLabels(map[string]string{"site": "berlin", "redflag.io/os": "windows"})
	if code, _, stderr := register(); code != 1 || !strings.Contains(stderr, "labels in "+configFile) || !strings.Contains(stderr, `"redflag.io/os" is reserved`) {
		t.Errorf("a reserved label in the config: exit %d, stderr %q; want exit 1 naming the file and the label", code, stderr)
	}
	if n := len(gw.requests()); n != 0 {
		t.Fatalf("a bad label in the config still sent %d registrations", n)
	}

	writeLabels(map[string]string{"site": "berlin", "env": "staging"})
	if code, _, stderr := register("env=prod"); code != 0 {
		t.Fatalf("register: exit %d\n%s", code, stderr)
	}
	want := map[string]string{"site": "berlin", "env": "prod"}
	if got := gw.requests(); len(got) != 1 || !maps.Equal(got[0].Labels, want) {
		t.Fatalf("the gateway was asked for %+v, want one registration with labels %v", got, want)
	}

	gw.answerCreated(false)
	code, _, stderr := register()
	if got := gw.requests(); code != 0 || len(got) != 2 || !maps.Equal(got[1].Labels, map[string]string{"site": "berlin", "env": "staging"}) ||
		!strings.Contains(stderr, "existed already, so the config's labels were not applied") {
		t.Errorf("re-register: exit %d, stderr %q, registrations %+v; want the config's labels asked for and a warning", code, stderr, got)
	}
}

func TestUsageDocumentsLabels(t *testing.T) {
	// The install script passes --labels only when `redflag-agent help`
	// mentions it.
	var stdout bytes.Buffer
	if run(context.Background(), []string{"help"}, &stdout, &bytes.Buffer{}); !strings.Contains(stdout.String(), "--labels key=value,...") {
		t.Errorf("usage does not document register --labels:\n%s", stdout.String())
	}
}
