// Package release is the one definition of a signed agent release, shared
// by the tool that signs releases (hack/release), the manager that serves
// them (Handler, mounted in the gateway) and the agent that installs them
// (agent/internal/selfupdate).
//
// A release is a binary and a manifest naming its version, OS,
// architecture, size and SHA-256. The manifest travels as an envelope: the
// manifest's exact JSON bytes (base64) and an Ed25519 signature over a
// domain string and those bytes, the same shape as the manager's signed
// work documents (internal/protocol/document.go). The agent verifies the
// bytes it received before it decodes them, and checks the binary against
// the manifest, so neither the gateway nor the network has to be trusted:
// only the release key, pinned on the host at install time.
//
// On disk a store is <dir>/<version>/<os>-<arch>/{manifest.json,
// redflag-agent[.exe]}; see Publish, Latest and Handler.
package release
