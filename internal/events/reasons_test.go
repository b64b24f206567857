package events

import (
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// reasonPattern is the schema's pattern for HistoryEntry.reason.
var reasonPattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

func TestReasonsAreWellFormed(t *testing.T) {
	severities := map[redflagv1.Severity]bool{
		redflagv1.SeverityInfo: true, redflagv1.SeverityWarning: true,
		redflagv1.SeverityError: true, redflagv1.SeverityCritical: true,
	}
	components := map[redflagv1.Component]bool{
		redflagv1.ComponentAgent: true, redflagv1.ComponentGateway: true, redflagv1.ComponentController: true,
		redflagv1.ComponentDownload: true, redflagv1.ComponentConfig: true, redflagv1.ComponentMigration: true,
		redflagv1.ComponentSecurity: true,
	}
	seen := map[string]bool{}
	for _, r := range All() {
		if seen[r.Name] {
			t.Errorf("%s defined twice", r.Name)
		}
		seen[r.Name] = true
		if !reasonPattern.MatchString(r.Name) || len(r.Name) > 64 {
			t.Errorf("%s does not fit the history reason schema", r.Name)
		}
		if r.Type != corev1.EventTypeNormal && r.Type != corev1.EventTypeWarning {
			t.Errorf("%s has type %q", r.Name, r.Type)
		}
		if !severities[r.Severity] || !components[r.Component] {
			t.Errorf("%s has severity %q, component %q", r.Name, r.Severity, r.Component)
		}
		// Normal things are info; anything worse must be a Warning, so
		// `kubectl events --types=Warning` shows all of it.
		if (r.Type == corev1.EventTypeNormal) != (r.Severity == redflagv1.SeverityInfo) {
			t.Errorf("%s: type %s does not match severity %s", r.Name, r.Type, r.Severity)
		}
		if r.Action == "" || len(r.Action) > 128 {
			t.Errorf("%s has action %q", r.Name, r.Action)
		}
		if len(r.Metadata) > redflagv1.MaxMetadataEntries {
			t.Errorf("%s declares %d metadata keys; history keeps %d", r.Name, len(r.Metadata), redflagv1.MaxMetadataEntries)
		}
		if got, ok := Lookup(r.Name); !ok || got.Name != r.Name || strings.Join(got.Metadata, ",") != strings.Join(r.Metadata, ",") {
			t.Errorf("Lookup(%s) = %v, %v", r.Name, got, ok)
		}
	}
	// The reasons the brief and DESIGN.md name must all exist.
	for _, name := range []string{
		"AgentRegistered", "AgentStarted", "AgentSilent", "AgentReturned", "AgentRevoked", "ConfigMigrated",
		"FactsChanged", "ScanSucceeded", "ScanFailed", "UpdatesInstalled", "InstallFailed", "AgentUpdateStarted",
		"AgentUpdated", "AgentRolledBack", "TokenCreated", "TokenActive", "TokenExpired", "TokenExhausted",
		"TokenRevoked", "MachineIDMismatch", "ReplayRejected", "BadSignature", "RolloutStarted", "RolloutHalted",
		"RolloutSucceeded", "InvalidSpec",
	} {
		if !seen[name] {
			t.Errorf("reason %s is missing", name)
		}
	}
	if _, ok := Lookup("NoSuchReason"); ok {
		t.Error("Lookup found an undefined reason")
	}
}
