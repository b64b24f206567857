package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/testenv"
)

const (
	managerNamespace = "redflag-system"
	sampleNamespace  = "default"
)

func startManager(o options, kubeconfig string) (*child, error) {
	bin := filepath.Join(o.binDir, "redflag-manager")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is missing: run `make build` first (make run does): %w", bin, err)
	}
	return start("manager", bin, "--kubeconfig", kubeconfig, "--namespace", managerNamespace,
		"--gateway-bind-address", "127.0.0.1:"+strconv.Itoa(o.gatewayPort),
		"--gateway-public-url", fmt.Sprintf("https://127.0.0.1:%d", o.gatewayPort),
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0")
}

// prepare applies the sample token and schedule, and returns the token and
// the file holding the gateway's CA.
func prepare(ctx context.Context, cl *cluster, o options, mgr *child) (string, string, error) {
	c := cl.client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", "", fmt.Errorf("creating namespace %s: %w", managerNamespace, err)
	}
	for _, f := range []string{"redflag_v1alpha1_registrationtoken.yaml", "redflag_v1alpha1_scanschedule.yaml"} {
		if err := applySample(ctx, c, f); err != nil {
			return "", "", err
		}
	}

	var secret corev1.Secret
	if err := wait(ctx, mgr, "the gateway's TLS Secret", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: "redflag-gateway-tls"}, &secret) == nil
	}); err != nil {
		return "", "", err
	}
	caFile := filepath.Join(o.workDir, "ca.crt")
	if err := os.WriteFile(caFile, secret.Data["ca.crt"], 0o644); err != nil {
		return "", "", err
	}
	var tok redflagv1.RegistrationToken
	if err := wait(ctx, mgr, "the sample token to become Active", func() bool {
		err := c.Get(ctx, client.ObjectKey{Namespace: sampleNamespace, Name: "web-servers"}, &tok)
		return err == nil && tok.Status.Phase == redflagv1.TokenActive && tok.Status.SecretName != ""
	}); err != nil {
		return "", "", err
	}
	var tokSecret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: sampleNamespace, Name: tok.Status.SecretName}, &tokSecret); err != nil {
		return "", "", fmt.Errorf("reading the token Secret: %w", err)
	}
	return string(tokSecret.Data["token"]), caFile, nil
}

// applySample creates a sample from config/samples unless it exists.
func applySample(ctx context.Context, c client.Client, file string) error {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", file))
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &obj.Object); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	obj.SetNamespace(sampleNamespace)
	if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("applying %s: %w", file, err)
	}
	return nil
}

// wait polls cond for up to two minutes, failing early if the manager exits.
func wait(ctx context.Context, mgr *child, what string, cond func() bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-mgr.done:
			return fmt.Errorf("the manager exited while waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
	}
	return nil
}

// startAgent enrolls this machine with files under dir and runs the agent.
func startAgent(ctx context.Context, c client.Client, o options, gateway, token, caFile, dir string) (*child, error) {
	bin := filepath.Join(o.binDir, "redflag-agent")
	configFile := filepath.Join(dir, "agent.json")
	paths := []string{"--config", configFile, "--state-dir", filepath.Join(dir, "state")}
	reg := exec.CommandContext(ctx, bin, append([]string{"register", "--server", gateway, "--token", token, "--ca-file", caFile}, paths...)...)
	reg.Stdout, reg.Stderr = os.Stdout, os.Stderr
	if err := reg.Run(); err != nil {
		return nil, fmt.Errorf("enrolling the local agent: %w", err)
	}
	if err := scanNow(ctx, c, configFile); err != nil {
		return nil, err
	}
	return start("agent", bin, append([]string{"run"}, paths...)...)
}

// scanNow asks the enrolled agent to scan everything at its first check-in
// (the redflag.io/scan-now annotation), so its pending updates show within
// seconds: the sample ScanSchedule's splay would spread its first scans
// over ten minutes, as it should for a fleet.
func scanNow(ctx context.Context, c client.Client, configFile string) error {
	data, err := os.ReadFile(configFile)
	if err != nil {
		return fmt.Errorf("reading the local agent's config: %w", err)
	}
	var enrolled struct {
		Namespace string `json:"namespace"`
		AgentName string `json:"agentName"`
	}
	if err := json.Unmarshal(data, &enrolled); err != nil || enrolled.Namespace == "" || enrolled.AgentName == "" {
		return fmt.Errorf("%s names no Agent (%v)", configFile, err)
	}
	a := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Namespace: enrolled.Namespace, Name: enrolled.AgentName}}
	value := time.Now().UTC().Format(time.RFC3339)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, redflagv1.ScanNowAnnotation, value)
	if err := c.Patch(ctx, a, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("asking the local agent to scan now: %w", err)
	}
	fmt.Printf("asked %s/%s to scan now (kubectl annotate agent %s %s=%s)\n", enrolled.Namespace, enrolled.AgentName, enrolled.AgentName, redflagv1.ScanNowAnnotation, value)
	return nil
}
