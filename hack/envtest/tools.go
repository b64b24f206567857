//go:build tools

// Package envtest pins the sources of the control-plane binaries that the
// integration tests run: kube-apiserver from k8s.io/kubernetes and etcd from
// go.etcd.io/etcd/server/v3. hack/envtest.sh builds them from the Go module
// proxy, because no download site for prebuilt binaries is reachable.
package envtest

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
