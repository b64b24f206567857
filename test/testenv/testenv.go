// Package testenv starts a real kube-apiserver and etcd (controller-runtime's
// envtest) with RedFlag's CRDs installed, for integration tests.
//
// The binaries come from KUBEBUILDER_ASSETS, which `make test` sets from
// hack/envtest.sh (it builds them from the Go module proxy on first use).
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/go-logr/logr"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Env is a running control plane with RedFlag's CRDs.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is a direct (uncached) client with RedFlag's scheme.
	Client client.Client
	// Scheme knows the built-in kinds and RedFlag's.
	Scheme *k8sruntime.Scheme

	env     *envtest.Environment
	certDir string
}

// RepoRoot is the repository's top directory, found from this file's path so
// tests in any package find config/.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// NewScheme returns a scheme with the built-in kinds and RedFlag's.
func NewScheme() (*k8sruntime.Scheme, error) {
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding built-in kinds: %w", err)
	}
	if err := redflagv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding redflag kinds: %w", err)
	}
	return s, nil
}

// Start starts kube-apiserver and etcd and installs the CRDs from
// config/crd/bases. Stop it with Stop.
func Start() (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/envtest.sh)")
	}
	// Test processes log through t.Log, not controller-runtime's logger;
	// left unset it prints a goroutine trace into the test output after
	// 30 s, which reads like a crash.
	ctrllog.SetLogger(logr.Discard())
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	// kube-apiserver's serving certificates live in a directory of our own
	// rather than one envtest makes and removes on stop, so StartAPIServer
	// brings it back with the same CA: clients keep their config.
	certDir, err := os.MkdirTemp("", "redflag-apiserver-")
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		ControlPlane:          envtest.ControlPlane{APIServer: &envtest.APIServer{CertDir: certDir}},
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	// kube-apiserver drains open watches on SIGTERM for up to a minute; a
	// test that stops it wants it gone, so it is killed after a few seconds.
	env.ControlPlaneStopTimeout = 5 * time.Second
	// envtest gives kube-apiserver 20 s to come up, then retries from
	// scratch; on two cores busy with builds it needs longer (seen: five
	// attempts of 20 s all failing), and every retry starts over.
	env.ControlPlaneStartTimeout = 2 * time.Minute
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		_ = os.RemoveAll(certDir)
		return nil, fmt.Errorf("starting envtest from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		_ = os.RemoveAll(certDir)
		return nil, fmt.Errorf("building client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, env: env, certDir: certDir}, nil
}

// StopAPIServer stops kube-apiserver alone (etcd keeps running), to test
// how clients behave when the API server is unreachable.
func (e *Env) StopAPIServer() error {
	// Stop answers an error when it had to kill the process after the
	// timeout; the server is gone either way, which is what callers want.
	err := e.env.ControlPlane.APIServer.Stop()
	if err != nil && !strings.Contains(err.Error(), "timeout waiting for process") {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	return nil
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the
// same address with the same certificates and users, so every client's
// config still works; etcd kept the data. It returns once the server
// answers its health check.
func (e *Env) StartAPIServer() error {
	if err := e.env.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("restarting kube-apiserver: %w", err)
	}
	return nil
}

// AddAdmin returns a kubeconfig for a new cluster-admin user, for running the
// real manager binary (or kubectl) against this control plane.
func (e *Env) AddAdmin() ([]byte, error) {
	user, err := e.env.AddUser(envtest.User{Name: "redflag-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("adding an admin user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, fmt.Errorf("writing the admin kubeconfig: %w", err)
	}
	return kubeconfig, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	defer func() { _ = os.RemoveAll(e.certDir) }()
	if err := e.env.Stop(); err != nil {
		return fmt.Errorf("stopping envtest: %w", err)
	}
	return nil
}
