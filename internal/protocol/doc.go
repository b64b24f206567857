// Package protocol is the contract between the gateway and redflag-agent:
// the paths, the JSON bodies, how a host signs each request with its Ed25519
// key, and how the manager signs the work document it hands back. Both sides
// import this one package, so they cannot disagree.
//
// The package owns the types its bodies carry (inventory.go, docker.go,
// work.go), mirrors of the API types with the same JSON, so the agent links
// no Kubernetes and its wire format does not move when an API type does;
// the gateway converts them to API types in one place
// (internal/gateway/wireconv.go).
package protocol

// Paths the gateway serves.
const (
	PathRegister = "/api/v1/register"
	PathCheckIn  = "/api/v1/checkin"
	PathReport   = "/api/v1/report"
	PathCA       = "/ca.crt"
	PathHealth   = "/healthz"
)

// Limits on what a host may send. The gateway refuses larger bodies with 413.
const (
	MaxRegisterBody = 16 << 10
	MaxCheckInBody  = 16 << 10
	MaxReportBody   = 1 << 20
)
