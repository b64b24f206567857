package fleetstatus

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

const usage = `Usage: kubectl redflag status [-n NAMESPACE] [--kubeconfig FILE] [--context NAME]

Prints, per namespace, the RedFlag hosts (Agents), how many are Ready, how
many have security updates pending and how long the oldest has waited, and
the rollouts (AgentUpdates) in progress and halted. All namespaces unless -n
is given. Reads with your kubeconfig; writes nothing.
`

// Main runs the plugin with args (without the program name) and returns
// its exit code: 0, 1 when the cluster could not be read, 2 for bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprint(stderr, usage)
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	fs := flag.NewFlagSet("kubectl redflag status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var namespace, kubeconfig, kubeContext string
	fs.StringVar(&namespace, "namespace", "", "only this namespace")
	fs.StringVar(&namespace, "n", "", "only this namespace (short)")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&kubeContext, "context", "", "kubeconfig context (default: the current one)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kubectl redflag status: unexpected argument %q\n%s", fs.Arg(0), usage)
		return 2
	}
	c, err := newClient(kubeconfig, kubeContext)
	if err != nil {
		fmt.Fprintln(stderr, "kubectl redflag status:", err)
		return 1
	}
	rows, err := Collect(ctx, c, namespace)
	if err != nil {
		fmt.Fprintln(stderr, "kubectl redflag status:", err)
		return 1
	}
	if err := Print(stdout, rows, time.Now()); err != nil {
		fmt.Fprintln(stderr, "kubectl redflag status:", err)
		return 1
	}
	return 0
}

// newClient reads the kubeconfig the way kubectl does ($KUBECONFIG, then
// ~/.kube/config; --kubeconfig and --context win).
func newClient(kubeconfig, kubeContext string) (client.Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-redflag"
	scheme := runtime.NewScheme()
	if err := redflagv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering RedFlag's kinds: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, nil
}
