// Package controllers holds one reconciler per RedFlag kind and nothing
// else: RegistrationToken, Agent, ScanSchedule and AgentUpdate. Shared
// helpers (conditions, history, event reasons) live in internal/.
package controllers
