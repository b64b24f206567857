# RedFlag's developer entry points. `make help` lists them.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VERSION ?= v0.0.0-dev
# The end-to-end package alone runs about ten minutes on two cores, go test's
# default limit per package binary; this leaves room for a slower machine.
TEST_TIMEOUT ?= 40m
LDFLAGS := -s -w -X github.com/redflag-io/redflag/internal/version.Version=$(VERSION)
CONTROLLER_GEN := go tool controller-gen
# Packages whose markers make CRDs, RBAC and deepcopy code.
GEN_PATHS := ./api/...;./controllers/...;./internal/...

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths="./api/..."

.PHONY: manifests
manifests: ## Generate CRDs and RBAC into config/, and copy the CRDs into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="$(GEN_PATHS)" \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	hack/sync-chart-crds.sh

.PHONY: fmt
fmt: ## Format the Go code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet, for Linux and for the agent's Windows build.
	go vet ./...
	GOOS=windows go vet ./agent/...

.PHONY: envtest
envtest: ## Build (once) kube-apiserver, etcd and kubectl for tests; prints their directory.
	@hack/envtest.sh

.PHONY: test-deps
test-deps: ## Install (once) the Debian packages the tests use: docker.io, busybox-static, rpm, shellcheck, and the node cluster's containerd, CNI plugins, conntrack.
	hack/test-deps.sh

.PHONY: test
test: vet verify test-deps fuzz ## Run every test: unit, integration (real API server) and end-to-end.
	KUBEBUILDER_ASSETS="$$(hack/envtest.sh)" go test -count=1 -timeout $(TEST_TIMEOUT) ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 3s); a crasher lands in the package's testdata/fuzz.
	hack/fuzz.sh

.PHONY: verify
verify: ## Fail when generated files, formatting or go.mod drift.
	hack/verify.sh

##@ Build

.PHONY: build
build: ## Build bin/redflag-manager, bin/redflag-agent and the kubectl plugin bin/kubectl-redflag.
	go build -trimpath -ldflags '$(LDFLAGS)' -o bin/redflag-manager .
	go build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-redflag ./cmd/kubectl-redflag
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/redflag-agent ./agent/cmd/redflag-agent

# The image's name, and the key that signs the agent release it carries
# (empty: a development key in .cache/redflag-dev/, made on first use).
IMAGE ?= ghcr.io/redflag-io/redflag-manager
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
RELEASE_KEY ?=

.PHONY: image
image: ## Build the manager image with the signed agent release into dist/ (an OCI archive; no Docker or registry needed) and print its digest.
	go run ./hack/image --version $(VERSION) --repository $(IMAGE) --platforms $(IMAGE_PLATFORMS) --release-key "$(RELEASE_KEY)" --out dist

.PHONY: packages
packages: build ## Pack bin/redflag-agent into a .deb and an .rpm in dist/ (this machine's arch; nfpm from hack/tools).
	@[ "$$(go env GOOS)" = linux ] || { echo "packages: the .deb and .rpm hold a Linux agent; run this on Linux" >&2; exit 1; }
	@mkdir -p dist
	nfpm=$$(hack/tool.sh nfpm); for p in deb rpm; do \
		REDFLAG_AGENT_BINARY=bin/redflag-agent REDFLAG_VERSION=$(VERSION) REDFLAG_ARCH=$$(go env GOARCH) \
			"$$nfpm" package --config packaging/nfpm.yaml --packager $$p --target dist/; \
	done

.PHONY: run
run: build ## Run RedFlag here: a local control plane unless KUBECONFIG is set (ARGS=--with-agent adds a local agent).
	@# Built, not `go run`: go run exits 1 whenever it is interrupted, which
	@# made a clean Ctrl-C end in "make: *** Error 1".
	go build -o bin/redflag-dev ./hack/dev
	bin/redflag-dev $(ARGS)
