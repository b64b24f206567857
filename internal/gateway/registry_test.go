package gateway

import (
	"testing"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

func agentAt(rv, updatesHash string) *redflagv1.Agent {
	a := &redflagv1.Agent{}
	a.Namespace, a.Name, a.ResourceVersion = "fleet", "web-1", rv
	a.Status.Updates.Hash = updatesHash
	return a
}

// TestAgentTableKeepsWhatTheGatewayWrote: the gateway's own write is what the
// agent's next request is judged against, even while the informer still
// delivers older copies; the informer's newer copies, and its deletions,
// win.
func TestAgentTableKeepsWhatTheGatewayWrote(t *testing.T) {
	r := newAgentTable()
	const key = "fleet/web-1"
	hash := func() string {
		t.Helper()
		rec := r.get(key)
		if rec == nil {
			return "<none>"
		}
		return rec.updatesHash
	}

	r.put(agentAt("5", "informer-5"))
	r.wrote(agentAt("7", "written-7"))
	if got := hash(); got != "written-7" {
		t.Fatalf("after the gateway's write the record says %q, want written-7", got)
	}
	r.put(agentAt("6", "informer-6"))
	if got := hash(); got != "written-7" {
		t.Errorf("an older informer copy replaced the gateway's write: %q", got)
	}
	r.put(agentAt("7", "informer-7"))
	if got := hash(); got != "informer-7" {
		t.Errorf("the informer's copy of the same version did not take over: %q", got)
	}
	r.put(agentAt("9", "informer-9"))
	r.wrote(agentAt("8", "written-8"))
	if got := hash(); got != "informer-9" {
		t.Errorf("a write older than the informer's copy replaced it: %q", got)
	}

	r.remove(key)
	r.wrote(agentAt("10", "written-10"))
	if got := hash(); got != "<none>" {
		t.Errorf("a write landing after the informer removed the Agent brought it back: %q", got)
	}

	// Versions that are not numbers cannot be ordered: the informer decides.
	r.put(agentAt("b", "informer-b"))
	r.wrote(agentAt("c", "written-c"))
	r.put(agentAt("a", "informer-a"))
	if got := hash(); got != "informer-a" {
		t.Errorf("with opaque versions the record says %q, want the informer's latest, informer-a", got)
	}
}
