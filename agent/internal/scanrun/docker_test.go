package scanrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// lister is a fake DockerLister: it returns inv and err, or panics.
func lister(inv *protocol.DockerInventory, err error, panics bool) DockerLister {
	return func(ctx context.Context) (*protocol.DockerInventory, error) {
		if panics {
			panic("boom")
		}
		if inv != nil {
			c := *inv
			return &c, err
		}
		return nil, err
	}
}

// TestRunDocker: what each answer of the engine's lister makes of subsystem
// docker's status, and that the inventory and its hash reach the result.
func TestRunDocker(t *testing.T) {
	inv := &protocol.DockerInventory{TotalContainers: 1, Containers: []protocol.DockerContainer{{Name: "web", State: "running", Update: protocol.ImageUpToDate}}}
	tests := []struct {
		name    string
		list    DockerLister
		result  protocol.RunResult
		present bool
		message string
		stored  bool
	}{
		{"listed", lister(inv, nil, false), protocol.RunSucceeded, true, "", true},
		{"partial", lister(inv, fmt.Errorf("%w: registry down", scan.ErrMalformed), false), protocol.RunSucceeded, true, "partial: ", true},
		{"no engine", lister(nil, fmt.Errorf("docker scan: %w", scan.ErrNotInstalled), false), protocol.RunSkipped, false, "not installed on this host", false},
		{"engine fails", lister(nil, errors.New("engine answered 500"), false), protocol.RunFailed, true, "engine answered 500", false},
		{"no inventory", lister(nil, nil, false), protocol.RunFailed, true, "no inventory", false},
		{"panics", lister(nil, nil, true), protocol.RunFailed, true, "panicked: boom", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestRunner(t, Config{Docker: tt.list})
			rep, err := r.Run(context.Background(), Docker)
			if err != nil {
				t.Fatal(err)
			}
			res := rep.Results[0]
			o := res.Outcomes[0]
			if res.Status.Result != tt.result || o.Present != tt.present || !strings.Contains(o.Message, tt.message) || o.Name != SourceDocker {
				t.Errorf("status %+v, outcome %+v", res.Status, o)
			}
			if (res.Docker != nil) != tt.stored || (res.Hash != "") != tt.stored {
				t.Fatalf("inventory %+v, hash %q; want one: %v", res.Docker, res.Hash, tt.stored)
			}
			if tt.stored && (res.Docker.ScannedAt == nil || !res.Docker.ScannedAt.Time.Equal(t0) || res.Docker.Containers[0].Name != "web") {
				t.Errorf("inventory %+v", res.Docker)
			}
		})
	}
}

// TestRunDockerTimesOut: a lister that outlives the scan timeout is
// reported as TimedOut.
func TestRunDockerTimesOut(t *testing.T) {
	slow := func(ctx context.Context) (*protocol.DockerInventory, error) {
		<-ctx.Done()
		return nil, context.Cause(ctx)
	}
	r, _ := newTestRunner(t, Config{Docker: slow, Timeout: 50 * time.Millisecond})
	rep, err := r.Run(context.Background(), Docker)
	if err != nil {
		t.Fatal(err)
	}
	if st := rep.Results[0].Status; st.Result != protocol.RunTimedOut {
		t.Errorf("status %+v, want TimedOut", st)
	}
}

// TestDockerHashIgnoresTime: the same listing taken at another time has
// the same hash; another listing has another.
func TestDockerHashIgnoresTime(t *testing.T) {
	a := protocol.DockerInventory{TotalImages: 1, Images: []protocol.DockerImage{{ID: "sha256:1", Repository: "nginx", Tag: "1"}}}
	b := a
	later := protocol.NewTime(t0.Add(time.Hour))
	b.ScannedAt = &later
	if DockerHash(a) != DockerHash(b) || DockerHash(a) == "" {
		t.Error("the scan time changed the hash")
	}
	b.Images = []protocol.DockerImage{{ID: "sha256:1", Repository: "nginx", Tag: "2"}}
	if DockerHash(a) == DockerHash(b) {
		t.Error("another listing has the same hash")
	}
}
