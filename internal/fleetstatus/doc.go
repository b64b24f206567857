// Package fleetstatus is `kubectl redflag status`: one line per namespace
// with its hosts, how many are Ready, how many have security updates
// pending and for how long the oldest has waited, and its rollouts in
// progress and halted. It reads the objects as a user would (their RBAC,
// their kubeconfig) and writes nothing.
package fleetstatus
