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
}

// registry holds every Reason in the order defined; define fills it, so a
// reason cannot exist without being listed (and documented: see the test).
var registry []Reason

func define(name, typ string, sev redflagv1.Severity, comp redflagv1.Component, action string) Reason {
	r := Reason{Name: name, Type: typ, Severity: sev, Component: comp, Action: action}
	registry = append(registry, r)
	return r
}

// All returns every reason, in documentation order.
func All() []Reason {
	return append([]Reason(nil), registry...)
}

// Lookup finds a reason by name, for code that receives reasons from
// outside (agent reports) and must refuse unknown ones.
func Lookup(name string) (Reason, bool) {
	for _, r := range registry {
		if r.Name == name {
			return r, true
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
	AgentStarted    = define("AgentStarted", normal, info, agent, "Report")
	AgentSilent     = define("AgentSilent", warning, warn, controller, "Monitor")
	AgentReturned   = define("AgentReturned", normal, info, controller, "Monitor")
	AgentRevoked    = define("AgentRevoked", warning, warn, security, "Revoke")
	ConfigMigrated  = define("ConfigMigrated", normal, info, migration, "Report")
	// WorkAbandoned: a host back from silence dropped work a rollout had
	// given up on (reported by the agent).
	WorkAbandoned = define("WorkAbandoned", normal, info, agent, "Report")
	FactsChanged  = define("FactsChanged", normal, info, agent, "Report")
)

// Scans, installs and self-updates, recorded on the Agent.
var (
	ScanSucceeded      = define("ScanSucceeded", normal, info, agent, "Scan")
	ScanFailed         = define("ScanFailed", warning, errorSev, agent, "Scan")
	UpdatesInstalled   = define("UpdatesInstalled", normal, info, agent, "Install")
	InstallFailed      = define("InstallFailed", warning, errorSev, agent, "Install")
	AgentUpdateStarted = define("AgentUpdateStarted", normal, info, download, "SelfUpdate")
	AgentUpdated       = define("AgentUpdated", normal, info, agent, "SelfUpdate")
	AgentRolledBack    = define("AgentRolledBack", warning, errorSev, agent, "SelfUpdate")
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
	MachineIDRebound = define("MachineIDRebound", normal, info, security, "Rebind")
)

// RegistrationToken lifecycle, recorded on the RegistrationToken.
var (
	TokenCreated        = define("TokenCreated", normal, info, controller, "Generate")
	TokenRegenerated    = define("TokenRegenerated", warning, warn, security, "Generate")
	TokenSecretConflict = define("TokenSecretConflict", warning, errorSev, controller, "Generate")
	TokenActive         = define("TokenActive", normal, info, controller, "Activate")
	TokenExpired        = define("TokenExpired", warning, warn, controller, "Expire")
	TokenExhausted      = define("TokenExhausted", warning, warn, controller, "Exhaust")
	TokenRevoked        = define("TokenRevoked", normal, info, security, "Revoke")
)

// Rollouts, recorded on the AgentUpdate.
var (
	RolloutStarted   = define("RolloutStarted", normal, info, controller, "Rollout")
	RolloutHalted    = define("RolloutHalted", warning, errorSev, controller, "Rollout")
	RolloutSucceeded = define("RolloutSucceeded", normal, info, controller, "Rollout")
	// HostTimedOut is also recorded on the Agent that timed out.
	HostTimedOut = define("HostTimedOut", warning, warn, controller, "Rollout")
)

// Any kind.
var (
	InvalidSpec = define("InvalidSpec", warning, errorSev, controller, "Validate")
)
