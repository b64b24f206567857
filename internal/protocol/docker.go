package protocol

// Bounds on a DockerInventory's lists; the totals count all.
const (
	MaxDockerContainers = 32
	MaxDockerImages     = 32
)

// ImageUpdateState says whether a running container's image is behind the
// image its registry now serves under the same tag.
type ImageUpdateState string

// Image update states. Unknown covers images that cannot be compared
// (built locally, pinned to a digest, started from an image ID) and
// registries that could not be asked.
const (
	ImageUpToDate        ImageUpdateState = "UpToDate"
	ImageUpdateAvailable ImageUpdateState = "UpdateAvailable"
	ImageUpdateUnknown   ImageUpdateState = "Unknown"
)

// DockerContainer is one container of the host's Docker engine.
type DockerContainer struct {
	Name        string `json:"name"`
	Image       string `json:"image,omitempty"`
	ImageID     string `json:"imageID,omitempty"`
	ImageDigest string `json:"imageDigest,omitempty"`
	// State is the engine's: created, running, paused, restarting,
	// removing, exited or dead.
	State    string `json:"state"`
	Created  *Time  `json:"created,omitempty"`
	Restarts int32  `json:"restarts,omitempty"`
	// Health is starting, healthy or unhealthy; empty without a check.
	Health string `json:"health,omitempty"`
	// Update is set for running containers.
	Update ImageUpdateState `json:"update,omitempty"`
}

// DockerImage is one local image under one tag; an untagged image has one
// entry with no repository.
type DockerImage struct {
	Repository string `json:"repository,omitempty"`
	Tag        string `json:"tag,omitempty"`
	ID         string `json:"id"`
	Digest     string `json:"digest,omitempty"`
	Size       int64  `json:"size,omitempty"`
	Created    *Time  `json:"created,omitempty"`
}

// DockerInventory is what a docker scan found on the host's engine:
// containers running first, then by name; images by repository and tag.
// It mirrors the API type of the same name (see inventory.go).
type DockerInventory struct {
	ScannedAt       *Time             `json:"scannedAt,omitempty"`
	Containers      []DockerContainer `json:"containers,omitempty"`
	Images          []DockerImage     `json:"images,omitempty"`
	TotalContainers int32             `json:"totalContainers,omitempty"`
	TotalImages     int32             `json:"totalImages,omitempty"`
	Truncated       bool              `json:"truncated,omitempty"`
	Hash            string            `json:"hash,omitempty"`
}
