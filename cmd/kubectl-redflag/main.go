// Command kubectl-redflag is a kubectl plugin: with it on the PATH,
// `kubectl redflag status` prints a one-line-per-namespace summary of the
// RedFlag fleet (internal/fleetstatus).
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/redflag-io/redflag/internal/fleetstatus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := fleetstatus.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
