package protocol

import (
	"time"
)

// RegisterRequest enrolls a host. It is authenticated by the registration
// token alone; every later request is signed with PublicKey's private half.
type RegisterRequest struct {
	Token        string `json:"token"`
	MachineID    string `json:"machineID"`
	Hostname     string `json:"hostname"`
	OS           OSInfo `json:"os"`
	AgentVersion string `json:"agentVersion"`
	// PublicKey is the host's Ed25519 public key, base64 (standard).
	PublicKey string `json:"publicKey"`
	// Labels are what the host asks to have on its Agent (see
	// ValidateLabels). They are applied when the Agent is created only:
	// afterwards the Agent's labels are the cluster users', and
	// registering again changes none of them.
	Labels map[string]string `json:"labels,omitempty"`
}

// RegisterResponse names the Agent the host now is.
type RegisterResponse struct {
	Namespace string `json:"namespace"`
	AgentName string `json:"agentName"`
	// WorkPublicKey verifies the manager's signed work documents, base64.
	WorkPublicKey string `json:"workPublicKey"`
	// CheckInInterval is the normal interval between check-ins.
	CheckInInterval Duration `json:"checkInInterval"`
	// Created is true when this request created the Agent, and so applied
	// the labels it asked for; false when the host was enrolled already
	// (or the gateway predates the field, and ignored the labels too).
	Created bool `json:"created,omitempty"`
}

// CheckInRequest is the small body of a check-in. A check-in that changes
// nothing costs the API server nothing.
type CheckInRequest struct {
	AgentVersion string `json:"agentVersion"`
	// FactsHash is the hash of the facts the agent last reported; when it
	// differs from what the gateway holds, the answer asks for a facts report.
	FactsHash string `json:"factsHash,omitempty"`
}

// CheckInResponse carries the signed work document.
type CheckInResponse struct {
	Work SignedDocument `json:"work"`
}

// WorkDocument is the agent's desired state, not a queue of commands: the
// agent converges on it. It names the agent and expires, so it cannot be
// replayed to another host or later.
type WorkDocument struct {
	// Agent is "namespace/name"; MachineID binds it to one host.
	Agent     string    `json:"agent"`
	MachineID string    `json:"machineID"`
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// CheckInInterval is the normal interval; HeartbeatUntil, when ahead,
	// asks for check-ins every HeartbeatInterval until then.
	CheckInInterval   Duration   `json:"checkInInterval"`
	HeartbeatUntil    *time.Time `json:"heartbeatUntil,omitempty"`
	HeartbeatInterval Duration   `json:"heartbeatInterval"`
	// NextCheckIn is how long to wait before the next check-in.
	NextCheckIn Duration `json:"nextCheckIn"`
	// SendFacts asks for a facts report (the gateway lacks or doubts them).
	SendFacts bool `json:"sendFacts,omitempty"`
	// Paused says the host gets no new work.
	Paused bool `json:"paused,omitempty"`
	// Scans are due now. A scan stays in every answer until its result is
	// stored, so a lost dispatch or result never skips a run; the agent runs
	// each ID once and at most one scan per subsystem at a time.
	Scans []ScanRequest `json:"scans,omitempty"`
	// Work is the install or self-update to run, when a rollout holds a
	// slot for this host (see WorkRequest).
	Work *WorkRequest `json:"work,omitempty"`
	// Abandoned lists work IDs a rollout gave up on for this host because
	// it stopped checking in for longer than the rollout's hostTimeout
	// (its Agent records them as Failed, HostTimedOut). The host must not
	// run or resume them, and drops one it was interrupted in. At most
	// the Agent's completedWork records (20).
	Abandoned []string `json:"abandoned,omitempty"`
}

// ScanRequest asks for one subsystem's scan.
type ScanRequest struct {
	// Subsystem is updates, storage, system or docker.
	Subsystem string `json:"subsystem"`
	// ID names this due run (subsystem and due time): the same until the
	// result is stored.
	ID string `json:"id"`
	// RefreshListsAfter, for updates, is how old the host's package lists
	// may be when scanned: older ones are refreshed first ("0s": never).
	// Absent (from a gateway that predates it) means the agent's default,
	// DefaultRefreshListsAfter.
	RefreshListsAfter *Duration `json:"refreshListsAfter,omitempty"`
}

// ReportKind says what a report carries.
type ReportKind string

// Report kinds.
const (
	// ReportFacts carries system facts and storage.
	ReportFacts ReportKind = "facts"
	// ReportEvent carries an agent-side event (startup, config migration).
	ReportEvent ReportKind = "event"
	// ReportScan carries a scan's outcome (and, for updates and docker, the
	// inventory).
	ReportScan ReportKind = "scan"
	// ReportWork carries an install's or self-update's progress.
	ReportWork ReportKind = "work"
)

// Report is something the host tells the cluster. IdempotencyKey makes a
// retried report harmless: the gateway applies each key once.
type Report struct {
	IdempotencyKey string      `json:"idempotencyKey"`
	Kind           ReportKind  `json:"kind"`
	Time           time.Time   `json:"time"`
	Facts          *Facts      `json:"facts,omitempty"`
	Event          *AgentEvent `json:"event,omitempty"`
	Scan           *ScanResult `json:"scan,omitempty"`
	Work           *WorkResult `json:"work,omitempty"`
}

// ScanResult is one finished scan.
type ScanResult struct {
	Subsystem string    `json:"subsystem"`
	ID        string    `json:"id"`
	Result    RunResult `json:"result"`
	Message   string    `json:"message,omitempty"`
	Finished  time.Time `json:"finished"`
	// Updates is the inventory, for the updates subsystem.
	Updates *UpdateInventory `json:"updates,omitempty"`
	// Docker is the engine's containers and images, for the docker
	// subsystem.
	Docker *DockerInventory `json:"docker,omitempty"`
	// UpdatesHash identifies the content of Updates, or of Docker; an
	// unchanged one is not rewritten.
	UpdatesHash string `json:"updatesHash,omitempty"`
}

// Facts are what a host knows of itself.
type Facts struct {
	AgentVersion string        `json:"agentVersion"`
	Hostname     string        `json:"hostname"`
	OS           OSInfo        `json:"os"`
	System       SystemFacts   `json:"system"`
	Storage      []MountStatus `json:"storage,omitempty"`
	// Hash is the agent's hash of the above, echoed in check-ins.
	Hash string `json:"hash"`
}

// AgentEvent is an event that happened on the host.
type AgentEvent struct {
	// Reason is one of the documented reasons (docs/events.md).
	Reason   string            `json:"reason"`
	Message  string            `json:"message"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// ReportResponse acknowledges a report. Duplicate is true when the key was
// applied before; the agent drops the report from its outbox either way.
type ReportResponse struct {
	Duplicate bool `json:"duplicate,omitempty"`
}

// Error is the JSON body of every refusal.
type Error struct {
	// Code is a stable CamelCase word a program can switch on.
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes the gateway answers with.
const (
	CodeBadRequest        = "BadRequest"
	CodeBodyTooLarge      = "BodyTooLarge"
	CodeRequestTimeout    = "RequestTimeout"
	CodeInvalidToken      = "InvalidToken"
	CodeTokenExpired      = "TokenExpired"
	CodeTokenExhausted    = "TokenExhausted"
	CodeTokenRevoked      = "TokenRevoked"
	CodeKeyMismatch       = "KeyMismatch"
	CodeUnknownAgent      = "UnknownAgent"
	CodeAgentRevoked      = "AgentRevoked"
	CodeBadSignature      = "BadSignature"
	CodeStaleTimestamp    = "StaleTimestamp"
	CodeReplay            = "ReplayRejected"
	CodeMachineIDMismatch = "MachineIDMismatch"
	CodeRateLimited       = "RateLimited"
	CodeUnavailable       = "Unavailable"
	CodeInternal          = "Internal"
)
