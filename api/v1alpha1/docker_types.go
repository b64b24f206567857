package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bounds on an Agent's status.docker lists; the totals count all.
const (
	MaxDockerContainers = 32
	MaxDockerImages     = 32
)

// ImageUpdateState says whether a running container's image is behind the
// image its registry now serves under the same tag.
// +kubebuilder:validation:Enum=UpToDate;UpdateAvailable;Unknown
type ImageUpdateState string

// Image update states. Unknown covers images that cannot be compared (built
// locally, pinned to a digest, started from an image ID) and registries
// that could not be asked.
const (
	ImageUpToDate        ImageUpdateState = "UpToDate"
	ImageUpdateAvailable ImageUpdateState = "UpdateAvailable"
	ImageUpdateUnknown   ImageUpdateState = "Unknown"
)

// DockerContainer is one container of the host's Docker engine.
type DockerContainer struct {
	// Name of the container.
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// Image is the reference the container was created from.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Image string `json:"image,omitempty"`
	// ImageID is the ID of the local image it runs.
	// +kubebuilder:validation:MaxLength=80
	// +optional
	ImageID string `json:"imageID,omitempty"`
	// ImageDigest is the registry digest that image was pulled or pushed
	// under; empty for an image built locally.
	// +kubebuilder:validation:MaxLength=80
	// +optional
	ImageDigest string `json:"imageDigest,omitempty"`
	// State is the engine's: created, running, paused, restarting,
	// removing, exited or dead.
	// +kubebuilder:validation:MaxLength=16
	State string `json:"state"`
	// Created is when the container was created.
	// +optional
	Created *metav1.Time `json:"created,omitempty"`
	// Restarts counts the engine's restarts of it.
	// +optional
	Restarts int32 `json:"restarts,omitempty"`
	// Health is starting, healthy or unhealthy; empty without a health
	// check.
	// +kubebuilder:validation:MaxLength=16
	// +optional
	Health string `json:"health,omitempty"`
	// Update is set for running containers: whether the registry serves a
	// newer image under the container's tag.
	// +optional
	Update ImageUpdateState `json:"update,omitempty"`
}

// DockerImage is one local image under one tag; an untagged image has one
// entry with no repository.
type DockerImage struct {
	// Repository is the tag's repository, as the docker CLI prints it.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Repository string `json:"repository,omitempty"`
	// Tag of the image.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Tag string `json:"tag,omitempty"`
	// ID of the image.
	// +kubebuilder:validation:MaxLength=80
	ID string `json:"id"`
	// Digest is the registry digest the image is known under in its
	// repository; empty for an image never pulled or pushed.
	// +kubebuilder:validation:MaxLength=80
	// +optional
	Digest string `json:"digest,omitempty"`
	// Size in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// Created is when the image was built; its age.
	// +optional
	Created *metav1.Time `json:"created,omitempty"`
}

// DockerInventory is what the docker subsystem last found on the host's
// engine. Containers are listed running first, then by name; images by
// repository and tag.
type DockerInventory struct {
	// ScannedAt is when the engine was read.
	// +optional
	ScannedAt *metav1.Time `json:"scannedAt,omitempty"`
	// Containers lists up to 32 containers, stopped ones included.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Containers []DockerContainer `json:"containers,omitempty"`
	// Images lists up to 32 local images.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Images []DockerImage `json:"images,omitempty"`
	// TotalContainers and TotalImages count all, listed or not.
	// +optional
	TotalContainers int32 `json:"totalContainers,omitempty"`
	// +optional
	TotalImages int32 `json:"totalImages,omitempty"`
	// Truncated is true when a list was cut to its bound.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
	// Hash is the agent's hash of the content; an unchanged inventory is
	// not rewritten.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Hash string `json:"hash,omitempty"`
}
