package gateway

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestRegisterAppliesRequestedLabelsAtCreationOnly: the labels a host asks
// for land on the Agent it creates, under the token's agentLabels and the
// gateway's own; once a cluster user has changed them, the same host
// registering again (an installer re-run, with the same or other labels)
// changes none of them.
func TestRegisterAppliesRequestedLabelsAtCreationOnly(t *testing.T) {
	ns := newNamespace(t)
	tok, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{
		AgentLabels: map[string]redflagv1.LabelValue{"tier": "web"},
	}, time.Hour)
	h := newHost(t, "labelled-01")
	req := h.registerRequest(token)
	req.Labels = map[string]string{"env": "prod", "team.example.com/owner": "payments", "tier": "db", "empty": ""}
	resp, err := host.Register(context.Background(), req)
	if err != nil {
		t.Fatalf("registering with labels: %v", err)
	}
	if !resp.Created {
		t.Error("the first registration's answer does not say it created the Agent")
	}
	key := resp.Namespace + "/" + resp.AgentName
	agent := getAgent(t, key)
	want := map[string]string{
		"env": "prod", "team.example.com/owner": "payments", "empty": "",
		"tier":            "web", // the token's word beats the host's
		redflagv1.LabelOS: "linux", redflagv1.LabelArch: "amd64", redflagv1.LabelToken: tok.Name,
	}
	if !maps.Equal(agent.Labels, want) {
		t.Errorf("new Agent's labels are %v, want %v", agent.Labels, want)
	}

	// A cluster user relabels the Agent...
	updateAgent(t, key, func(a *redflagv1.Agent) {
		a.Labels["env"] = "staging"
		delete(a.Labels, "team.example.com/owner")
	})
	edited := getAgent(t, key).Labels
	// ...and the host registers again, with the labels it first asked for
	// and with others: the user's labels stay.
	for _, labels := range []map[string]string{req.Labels, {"env": "prod", "rack": "r12"}, nil} {
		again := h.registerRequest(token)
		again.Labels = labels
		resp2, err := host.Register(context.Background(), again)
		if err != nil || resp2.AgentName != resp.AgentName {
			t.Fatalf("re-registering with labels %v: %+v, %v", labels, resp2, err)
		}
		if resp2.Created {
			t.Errorf("re-registering with labels %v: the answer says the Agent was created (labels applied)", labels)
		}
		if got := getAgent(t, key).Labels; !maps.Equal(got, edited) {
			t.Errorf("re-registering with labels %v changed the Agent's labels from %v to %v", labels, edited, got)
		}
	}
	if used := usedSeats(t, tok); used != 1 {
		t.Errorf("token used %d seats for one host registering four times, want 1", used)
	}
}

// TestRegisterRefusesBadLabels: a label that is not a Kubernetes label, is
// under redflag.io/, or one too many, is refused with 400 naming it; no
// Agent is created and no seat is taken.
func TestRegisterRefusesBadLabels(t *testing.T) {
	ns := newNamespace(t)
	tok, token := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	tooMany := map[string]string{}
	for i := range protocol.MaxRegisterLabels + 1 {
		tooMany[fmt.Sprintf("l%d", i)] = "v"
	}
	for name, tc := range map[string]struct {
		labels map[string]string
		want   []string // in the message
	}{
		"reserved key":          {map[string]string{"env": "prod", "redflag.io/os": "windows"}, []string{`"redflag.io/os"`, "reserved"}},
		"reserved subdomain":    {map[string]string{"x.redflag.io/owner": "me"}, []string{`"x.redflag.io/owner"`, "reserved"}},
		"bad key":               {map[string]string{"bad key!": "x"}, []string{`"bad key!"`, "not a valid Kubernetes label key"}},
		"bad value":             {map[string]string{"env": "prod/eu"}, []string{`env="prod/eu"`, "invalid value"}},
		"value too long":        {map[string]string{"env": strings.Repeat("v", 64)}, []string{"env=", "invalid value"}},
		"too many":              {tooMany, []string{"33 given", "at most 32"}},
		"bad among good labels": {map[string]string{"a": "1", "b": "2", "c": "-3"}, []string{`c="-3"`}},
	} {
		h := newHost(t, "bad-labels")
		req := h.registerRequest(token)
		req.Labels = tc.labels
		_, err := host.Register(context.Background(), req)
		e := refusal(t, err)
		if e.Status != http.StatusBadRequest || e.Code != protocol.CodeBadRequest {
			t.Errorf("%s: got %d %s (%s), want 400 %s", name, e.Status, e.Code, e.Message, protocol.CodeBadRequest)
		}
		for _, w := range tc.want {
			if !strings.Contains(e.Message, w) {
				t.Errorf("%s: message %q does not say %q", name, e.Message, w)
			}
		}
	}
	var agents redflagv1.AgentList
	if err := env.Client.List(context.Background(), &agents, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(agents.Items) != 0 {
		t.Errorf("registrations with bad labels created %d Agents", len(agents.Items))
	}
	if used := usedSeats(t, tok); used != 0 {
		t.Errorf("registrations with bad labels took %d seats", used)
	}
}
