package fleetstatus_test

import (
	"context"
	"io"

	"github.com/redflag-io/redflag/internal/fleetstatus"
)

func fleetstatusMain(args []string, stdout, stderr io.Writer) int {
	return fleetstatus.Main(context.Background(), args, stdout, stderr)
}
