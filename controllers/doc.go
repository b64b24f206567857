// Package controllers holds one reconciler per RedFlag kind and nothing
// else: RegistrationToken, Agent, ScanSchedule and AgentUpdate. Each ends
// its pass through internal/reconcile (status written when changed, then
// Events; conflicts retried); other shared helpers (conditions, history,
// event reasons) live in internal/ too.
package controllers
