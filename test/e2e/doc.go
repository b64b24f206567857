// Package e2e runs the real binaries: bin/redflag-manager against a real
// kube-apiserver and etcd, and real redflag-agent processes enrolling,
// checking in, falling silent and coming back. Its tests assert what a user
// would check with kubectl.
package e2e
