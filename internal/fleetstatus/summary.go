package fleetstatus

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Row is one namespace's summary.
type Row struct {
	Namespace string
	// Hosts counts Agents; Ready those whose Ready condition is True.
	Hosts, Ready int
	// Security counts Agents with at least one security update pending.
	Security int
	// OldestSecurity is the earliest status.updates.securitySince among
	// them (nil when none is dated).
	OldestSecurity *time.Time
	// InProgress counts AgentUpdates still handing out work (Pending,
	// Waiting, Progressing, Paused); Halted those stopped by failures.
	InProgress, Halted int
}

// pageSize bounds each list response, so a 10,000-host fleet is read in
// pages rather than one large answer held twice in memory.
const pageSize = 500

// Collect summarizes namespace ("" for all) by listing its Agents and
// AgentUpdates, in pages. Rows are sorted by namespace.
func Collect(ctx context.Context, c client.Reader, namespace string) ([]Row, error) {
	rows := map[string]*Row{}
	row := func(ns string) *Row {
		if rows[ns] == nil {
			rows[ns] = &Row{Namespace: ns}
		}
		return rows[ns]
	}
	opts := []client.ListOption{client.Limit(pageSize)}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	for cont := ""; ; {
		var agents redflagv1.AgentList
		if err := c.List(ctx, &agents, append(opts, client.Continue(cont))...); err != nil {
			return nil, fmt.Errorf("listing Agents: %w", err)
		}
		for i := range agents.Items {
			addAgent(row(agents.Items[i].Namespace), &agents.Items[i])
		}
		if cont = agents.Continue; cont == "" {
			break
		}
	}
	for cont := ""; ; {
		var rollouts redflagv1.AgentUpdateList
		if err := c.List(ctx, &rollouts, append(opts, client.Continue(cont))...); err != nil {
			return nil, fmt.Errorf("listing AgentUpdates: %w", err)
		}
		for _, u := range rollouts.Items {
			switch u.Status.Phase {
			case redflagv1.RolloutHalted:
				row(u.Namespace).Halted++
			case redflagv1.RolloutSucceeded, redflagv1.RolloutFailed:
			default:
				row(u.Namespace).InProgress++
			}
		}
		if cont = rollouts.Continue; cont == "" {
			break
		}
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out, nil
}

func addAgent(r *Row, a *redflagv1.Agent) {
	r.Hosts++
	if meta.IsStatusConditionTrue(a.Status.Conditions, redflagv1.ConditionReady) {
		r.Ready++
	}
	u := a.Status.Updates
	if u.Security <= 0 {
		return
	}
	r.Security++
	if s := u.SecuritySince; s != nil && (r.OldestSecurity == nil || s.Time.Before(*r.OldestSecurity)) {
		t := s.Time
		r.OldestSecurity = &t
	}
}

// Total adds rows up into one with the namespace "TOTAL".
func Total(rows []Row) Row {
	t := Row{Namespace: "TOTAL"}
	for _, r := range rows {
		t.Hosts += r.Hosts
		t.Ready += r.Ready
		t.Security += r.Security
		t.InProgress += r.InProgress
		t.Halted += r.Halted
		if r.OldestSecurity != nil && (t.OldestSecurity == nil || r.OldestSecurity.Before(*t.OldestSecurity)) {
			t.OldestSecurity = r.OldestSecurity
		}
	}
	return t
}
