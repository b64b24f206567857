// Package conditions sets the Ready, Reconciling and Stalled conditions of a
// RedFlag object the way kstatus reads them, so `kubectl wait`, Flux health
// checks and Argo CD understand every kind without custom scripts.
//
// The kstatus rules for a custom resource (sigs.k8s.io/cli-utils
// pkg/kstatus/status.Compute), which these helpers are built around:
//
//   - Reconciling=True: InProgress, whatever else is set.
//   - Stalled=True: Failed (the controller cannot progress without a change).
//   - otherwise Ready=True: Current; Ready=False or Unknown: InProgress.
//
// So each helper also removes the conditions that would contradict it.
package conditions
