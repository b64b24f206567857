package scanrun

import (
	"context"

	"github.com/redflag-io/redflag/agent/internal/scan/docker"
	"github.com/redflag-io/redflag/internal/protocol"
)

// DockerLister lists the containers and images of the host's Docker
// engine for subsystem "docker". It returns an error wrapping
// scan.ErrNotInstalled when the host has no engine, and the inventory
// together with an error wrapping scan.ErrMalformed when part of it could
// not be read (a registry down leaves update states Unknown).
type DockerLister func(context.Context) (*protocol.DockerInventory, error)

// DockerInventory returns the lister of subsystem "docker": the engine on
// $DOCKER_HOST or the default socket. Docker image updates are part of
// subsystem "updates" (every package manager, Docker images included, in
// one inventory); this subsystem shows the containers and images
// themselves, with each running container's update state.
func DockerInventory() DockerLister {
	return docker.Runner{}.Inventory
}
