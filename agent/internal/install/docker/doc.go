// Package docker updates the images of running containers: for each
// selected image with a newer digest in its registry (as the Docker
// scanner reports it), it pulls the image and recreates every running
// container created from that image reference, keeping what the
// container was created with.
//
// It speaks the Engine API over the same socket the scanner uses
// (DOCKER_HOST honoured, through scan/docker's Endpoint), with plain
// net/http and size-capped bodies; no docker CLI is needed.
//
// A container is recreated from its own record (GET /containers/{id}/json):
// its Config with the image defaults the old image supplied taken out
// (environment entries, labels, entrypoint and command, exposed ports,
// volumes, working directory, user, stop signal and health check equal
// to the old image's), so the new image's defaults apply while everything
// the user set stays; its HostConfig unchanged (ports, binds and mounts,
// restart policy, resources, init, ...) plus its anonymous volumes
// mounted again by name, so their data follows; its networks with their
// aliases, links and static addresses (the first at creation, the others
// connected before start, which every engine since API 1.24 accepts).
// The sequence keeps the old container until the new one has proven
// itself:
//
//  1. create the new container as <name>-redflag-new-<old short id>;
//  2. stop the old one and rename it <name>-redflag-old-<short id>;
//  3. rename the new one to <name> and start it;
//  4. watch it for a settle time (and, with a health check, until
//     healthy): it must keep running;
//  5. remove the old one.
//
// When the new container fails to start or to stay up, the old one is
// put back: the new one is removed, the old one renamed to <name> and
// started, and the install fails with an error wrapping
// installer.ErrRolledBack. Containers started with --rm are refused at
// planning (stopping them would delete them, leaving nothing to roll
// back to). Stopped containers are left alone, as is the old image.
package docker
