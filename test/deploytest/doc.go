// Package deploytest checks what people deploy RedFlag with, using the real
// tools against a real API server: the Helm chart (charts/redflag) with the
// helm that hack/tool.sh builds, the kustomize base (config/default) and the
// samples applied the GitOps way with the kubectl that hack/envtest.sh
// builds, and the Dockerfile. One envtest kube-apiserver serves the whole
// package; the tests do not run in parallel because they share it (and its
// cluster-scoped CRDs).
//
// The package has tests only; run them with
//
//	KUBEBUILDER_ASSETS=$(hack/envtest.sh) go test ./test/deploytest/
package deploytest
