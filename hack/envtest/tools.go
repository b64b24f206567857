//go:build tools

// Package envtest pins the sources of the control-plane binaries that the
// integration tests run: kube-apiserver from k8s.io/kubernetes and etcd from
// go.etcd.io/etcd/server/v3, plus kubectl (same Kubernetes version) for the
// tests that drive the cluster the way a user or a GitOps tool does.
// hack/envtest.sh builds them from the Go module proxy, because no download
// site for prebuilt binaries is reachable. The same Kubernetes version gives
// the node components of the single-node test cluster, which hack/node.sh
// builds: kubelet, kube-proxy, kube-scheduler and kube-controller-manager.
package envtest

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
