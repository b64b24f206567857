// Package docker finds out-of-date container images: for every running
// container (and, on request, every tagged local image) it compares the
// digest the local image was pulled or pushed under with the digest the
// registry now serves for the same tag, and reports a PendingUpdate when
// they differ. Runner.Inventory lists, for subsystem docker, every
// container (stopped ones too) and local image, bounded to the Agent
// status's limits, with each running container's update state from the
// same comparison.
//
// It talks to the Docker engine over its API socket with plain net/http
// (DOCKER_HOST honoured; unix:// and tcp:// without TLS), so the agent
// carries no Docker SDK. Registries are asked through go-containerregistry
// (remote.Puller): a HEAD of the tag's manifest, falling back to GET where
// HEAD gives no digest, with tokens and Basic logins handled by its
// transport. Logins come from the docker config.json through a keychain
// that runs the credential helpers it names (credsStore, credHelpers), as
// the docker CLI does.
//
// Registries are reached over HTTPS; plain HTTP is tried only for hosts
// the engine lists as insecure registries and for loopback hosts, as the
// engine itself would: the transport under go-containerregistry refuses
// the clear-text requests it would otherwise make to private addresses.
// Every lookup has a timeout and every body read is size-capped. A
// registry that cannot be reached is reported in the returned error while
// the other images are still checked.
//
// The reference parser takes host input and is fuzzed; the
// test/dockertest package starts a private dockerd and an in-process
// registry for the integration test.
package docker
