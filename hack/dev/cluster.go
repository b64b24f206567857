package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/redflag-io/redflag/test/testenv"
)

// cluster is where the manager runs: a user's cluster or a local control
// plane this command started (and stops).
type cluster struct {
	kubeconfig string
	client     client.Client
	local      *envtest.Environment
}

func (c *cluster) stop() {
	if c.local != nil {
		_ = c.local.Stop()
	}
}

func connect(ctx context.Context, o options) (*cluster, error) {
	scheme, err := testenv.NewScheme()
	if err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if o.kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("reading kubeconfig %s: %w", o.kubeconfig, err)
		}
		c, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return nil, err
		}
		fmt.Println("using the cluster in", o.kubeconfig)
		if err := installCRDs(ctx, c); err != nil {
			return nil, err
		}
		return &cluster{kubeconfig: o.kubeconfig, client: c}, nil
	}

	assets, err := envtestAssets()
	if err != nil {
		return nil, err
	}
	fmt.Println("no kubeconfig given: starting a local control plane (kube-apiserver and etcd from", assets+")")
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting the local control plane: %w", err)
	}
	cl := &cluster{local: env}
	user, err := env.AddUser(envtest.User{Name: "redflag-dev", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		cl.stop()
		return nil, err
	}
	data, err := user.KubeConfig()
	if err == nil {
		cl.kubeconfig = filepath.Join(o.workDir, "kubeconfig")
		err = os.WriteFile(cl.kubeconfig, data, 0o600)
	}
	if err == nil {
		cl.client, err = client.New(user.Config(), client.Options{Scheme: scheme})
	}
	if err != nil {
		cl.stop()
		return nil, fmt.Errorf("writing the local kubeconfig: %w", err)
	}
	return cl, nil
}

// envtestAssets finds kube-apiserver and etcd, building them on first use.
func envtestAssets() (string, error) {
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "envtest.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/envtest.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// installCRDs creates or updates RedFlag's CRDs in a user's cluster.
func installCRDs(ctx context.Context, c client.Client) error {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs found under config/crd/bases: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		var existing apiextensionsv1.CustomResourceDefinition
		switch err := c.Get(ctx, client.ObjectKey{Name: crd.Name}, &existing); {
		case err == nil:
			crd.ResourceVersion = existing.ResourceVersion
			err = c.Update(ctx, &crd)
			if err != nil {
				return fmt.Errorf("updating CRD %s: %w", crd.Name, err)
			}
		case client.IgnoreNotFound(err) == nil:
			if err := c.Create(ctx, &crd); err != nil {
				return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
			}
		default:
			return fmt.Errorf("reading CRD %s: %w", crd.Name, err)
		}
	}
	// Give the API server a moment to serve the new kinds.
	time.Sleep(2 * time.Second)
	return nil
}
