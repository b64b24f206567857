// Package docker finds out-of-date container images: for every running
// container (and, on request, every tagged local image) it compares the
// digest the local image was pulled or pushed under with the digest the
// registry now serves for the same tag, and reports a PendingUpdate when
// they differ.
//
// It talks to the Docker engine over its API socket with plain net/http
// (DOCKER_HOST honoured; unix:// and tcp:// without TLS) and to registries
// through the distribution HTTP API v2: a HEAD of the tag's manifest with
// Accept headers for OCI and Docker indexes and manifests, reading
// Docker-Content-Digest. Registries that answer 401 are retried with a
// Bearer token fetched from the challenge's realm (anonymously, or with
// basic credentials from the `auths` of ~/.docker/config.json), or with
// those basic credentials directly. Credential helpers (credsStore,
// credHelpers) are not run.
//
// Registries are reached over HTTPS; plain HTTP is tried only for hosts
// the engine lists as insecure registries and for loopback hosts, as the
// engine itself would. Every request has a timeout and every body read is
// size-capped. A registry that cannot be reached is reported in the
// returned error while the other images are still checked.
//
// The reference and WWW-Authenticate parsers take host input and are
// fuzzed; the dockertest sub-package starts a private dockerd and an
// in-process registry for the integration test.
package docker
