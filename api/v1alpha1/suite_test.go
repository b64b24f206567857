package v1alpha1_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/redflag-io/redflag/test/testenv"
)

// env is the real API server shared by this package's integration tests.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test control plane:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
