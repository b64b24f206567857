// Package config reads, validates, migrates and writes the agent's config
// file (default /etc/redflag/agent.json).
//
// The file holds the host's identity (agent name, machine ID, Ed25519 key
// pair) and how to reach the server. Losing or mangling it means the host
// must enroll again and uses a second seat, so every write is atomic
// (temporary file, fsync, rename, fsync of the directory) and mode 0600,
// and an older layout is backed up before it is migrated.
//
// Schema versions:
//
//   - 1: the flat snake_case file of RedFlag's original agent, with no
//     schemaVersion field (see configV1 in v1.go).
//   - 2: the current layout (Config), with "schemaVersion": 2.
//
// A file with a schemaVersion above CurrentSchemaVersion was written by a
// newer agent and is refused rather than guessed at: writing it back in
// the older layout would silently drop what the newer agent stored.
// Unknown fields in a version-2 file are kept and written back unchanged,
// so an agent that was rolled back does not strip fields a newer build of
// the same schema added.
package config
