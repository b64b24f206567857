// Package nodetest runs its tests against a real single-node Kubernetes
// cluster on this machine, started by hack/node.sh: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd with runc and the CNI
// bridge, a kubelet and kube-proxy, all built or installed here, with
// images imported from OCI archives built here (nothing is pulled). It
// needs root and the packages of hack/test-deps.sh; it fails, and never
// skips, when the cluster cannot start, quoting why.
package nodetest
