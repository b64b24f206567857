package events

import (
	corev1 "k8s.io/api/core/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Reason is one documented Event reason with the fixed attributes every
// occurrence of it carries.
type Reason struct {
	// Name is the Event's reason, CamelCase.
	Name string
	// Type is corev1.EventTypeNormal or corev1.EventTypeWarning.
	Type string
	// Severity grades it for people and alerting.
	Severity redflagv1.Severity
	// Component is the part of RedFlag that records it.
	Component redflagv1.Component
	// Action is the events.k8s.io/v1 action: what was being done.
	Action string
	// Metadata are the keys every occurrence carries, in documentation
	// order (docs/events.md lists the same; a test compares them). The
	// Recorder drops any other key, so a host reporting an event cannot
	// add keys, and log pipelines can rely on the set.
	Metadata []string
}

// registry holds every Reason in the order defined; define fills it, so a
// reason cannot exist without being listed (and documented: see the test).
var registry []Reason

func define(name, typ string, sev redflagv1.Severity, comp redflagv1.Component, action string, keys ...string) Reason {
	r := Reason{Name: name, Type: typ, Severity: sev, Component: comp, Action: action, Metadata: keys}
	registry = append(registry, r)
	return r
}

// All returns every reason, in documentation order.
func All() []Reason {
	out := make([]Reason, len(registry))
	for i, r := range registry {
		out[i] = r.clone()
	}
	return out
}

// clone copies r so a caller cannot change the registry's key list.
func (r Reason) clone() Reason {
	r.Metadata = append([]string(nil), r.Metadata...)
	return r
}

// Declares reports whether key is one of r's metadata keys.
func (r Reason) Declares(key string) bool {
	for _, k := range r.Metadata {
		if k == key {
			return true
		}
	}
	return false
}

// Lookup finds a reason by name, for code that receives reasons from
// outside (agent reports) and must refuse unknown ones.
func Lookup(name string) (Reason, bool) {
	for _, r := range registry {
		if r.Name == name {
			return r.clone(), true
		}
	}
	return Reason{}, false
}

const (
	normal  = corev1.EventTypeNormal
	warning = corev1.EventTypeWarning

	info     = redflagv1.SeverityInfo
	warn     = redflagv1.SeverityWarning
	errorSev = redflagv1.SeverityError
	critical = redflagv1.SeverityCritical

	agent      = redflagv1.ComponentAgent
	gateway    = redflagv1.ComponentGateway
	controller = redflagv1.ComponentController
	download   = redflagv1.ComponentDownload
	migration  = redflagv1.ComponentMigration
	security   = redflagv1.ComponentSecurity
)

// Agent lifecycle, recorded on the Agent.
var (
	AgentRegistered = define("AgentRegistered", normal, info, gateway, "Register")
	AgentStarted    = define("AgentStarted", normal, info, agent, "Report", "version")
	AgentSilent     = define("AgentSilent", warning, warn, controller, "Monitor")
	AgentReturned   = define("AgentReturned", normal, info, controller, "Monitor")
	AgentRevoked    = define("AgentRevoked", warning, warn, security, "Revoke")
	ConfigMigrated  = define("ConfigMigrated", normal, info, migration, "Report", "fromVersion", "toVersion")
	// WorkAbandoned: a host back from silence dropped work a rollout had
	// given up on (reported by the agent).
	WorkAbandoned = define("WorkAbandoned", normal, info, agent, "Report", "workID")
	FactsChanged  = define("FactsChanged", normal, info, agent, "Report", "oldOS", "newOS", "oldKernel", "newKernel", "oldArch", "newArch")
)

// selfUpdateKeys are the metadata of every self-update event: the rollout
// and work, and the versions and platform involved.
var selfUpdateKeys = []string{"agentUpdate", "workID", "oldVersion", "newVersion", "platform"}

// Scans, installs and self-updates, recorded on the Agent.
var (
	ScanSucceeded      = define("ScanSucceeded", normal, info, agent, "Scan", "subsystem")
	ScanFailed         = define("ScanFailed", warning, errorSev, agent, "Scan", "subsystem")
	UpdatesInstalled   = define("UpdatesInstalled", normal, info, agent, "Install", "agentUpdate", "workID", "packages", "dryRun")
	InstallFailed      = define("InstallFailed", warning, errorSev, agent, "Install", "agentUpdate", "workID", "reason")
	AgentUpdateStarted = define("AgentUpdateStarted", normal, info, download, "SelfUpdate", selfUpdateKeys...)
	AgentUpdated       = define("AgentUpdated", normal, info, agent, "SelfUpdate", selfUpdateKeys...)
	AgentRolledBack    = define("AgentRolledBack", warning, errorSev, agent, "SelfUpdate", append(selfUpdateKeys[:len(selfUpdateKeys):len(selfUpdateKeys)], "reason")...)
)

// Requests the gateway refused, recorded on the Agent.
var (
	MachineIDMismatch = define("MachineIDMismatch", warning, critical, security, "Refuse")
	ReplayRejected    = define("ReplayRejected", warning, errorSev, security, "Refuse")
	BadSignature      = define("BadSignature", warning, errorSev, security, "Refuse")
)

// An agent's identity in use, recorded on the Agent.
var (
	CloneSuspected   = define("CloneSuspected", warning, errorSev, security, "Monitor")
	MachineIDRebound = define("MachineIDRebound", normal, info, security, "Rebind", "machineID", "enrolledMachineID")
)

// RegistrationToken lifecycle, recorded on the RegistrationToken.
var (
	TokenCreated        = define("TokenCreated", normal, info, controller, "Generate", "tokenID", "secretName")
	TokenRegenerated    = define("TokenRegenerated", warning, warn, security, "Generate", "tokenID", "oldTokenID", "secretName")
	TokenSecretConflict = define("TokenSecretConflict", warning, errorSev, controller, "Generate", "secretName")
	TokenActive         = define("TokenActive", normal, info, controller, "Activate", "tokenID", "expiresAt")
	TokenExpired        = define("TokenExpired", warning, warn, controller, "Expire", "tokenID", "expiresAt")
	TokenExhausted      = define("TokenExhausted", warning, warn, controller, "Exhaust", "tokenID", "expiresAt")
	TokenRevoked        = define("TokenRevoked", normal, info, security, "Revoke", "tokenID", "expiresAt", "source")
	// EnrollmentRefused: a host presented this token (its secret matched)
	// but was refused; recorded at most once a minute per token and cause
	// on each gateway replica, with the number refused meanwhile.
	EnrollmentRefused = define("EnrollmentRefused", warning, warn, security, "Refuse", "tokenID", "cause", "machineID", "hostname", "refused")
)

// Rollouts, recorded on the AgentUpdate.
var (
	RolloutStarted   = define("RolloutStarted", normal, info, controller, "Rollout", "workID")
	RolloutHalted    = define("RolloutHalted", warning, errorSev, controller, "Rollout", "workID")
	RolloutSucceeded = define("RolloutSucceeded", normal, info, controller, "Rollout", "workID")
	// HostTimedOut is also recorded on the Agent that timed out.
	HostTimedOut = define("HostTimedOut", warning, warn, controller, "Rollout", "agentUpdate", "agent", "workID")
)

// Any kind.
var (
	InvalidSpec = define("InvalidSpec", warning, errorSev, controller, "Validate")
)
