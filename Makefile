# wpauthz — see README.md. Everything a target needs is installed into
# bin/ (git-ignored) on first use.

SHELL := /usr/bin/env bash -o pipefail
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

CONTROLLER_GEN_VERSION ?= v0.23.0
GRPCURL_VERSION ?= v1.9.4
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GRPCURL := $(BIN)/grpcurl-$(GRPCURL_VERSION)

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs (and, later, RBAC) from kubebuilder markers.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases

.PHONY: verify-generated
verify-generated: generate manifests ## Fail if generated files are stale.
	@git diff --exit-code -- api config/crd || { echo "generated files are stale: run 'make generate manifests'"; exit 1; }

.PHONY: lint
lint: ## gofmt check and go vet.
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

##@ Build and run

.PHONY: build
build: ## Build bin/wpauthz.
	$(GO) build -trimpath -o $(BIN)/wpauthz ./cmd/wpauthz

.PHONY: run
run: build ## Serve the embedded default: policies from config/samples/local.
	@echo "wpauthz: gRPC ext_authz on :9001, HTTP checks on :8080 (policies: config/samples/local)"
	@echo "Get a token to try it:  bin/wpauthz token mint --user-id 2 --login jane --role editor"
	$(BIN)/wpauthz serve --config-dir config/samples/local --log-format text

##@ Test

.PHONY: test
test: lint verify-generated $(GRPCURL) ## Run every test (unit, integration, real nginx/Caddy, standalone binary with grpcurl).
	hack/test-deps.sh
	WPAUTHZ_GRPCURL=$(GRPCURL) WPAUTHZ_REQUIRE_PROXIES=1 $(GO) test -race -count=1 ./...

.PHONY: bench
bench: ## Engine micro-benchmarks.
	$(GO) test -run '^$$' -bench . -benchmem ./authz/...

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(GRPCURL):
	GOBIN=$(BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
	mv $(BIN)/grpcurl $@
	ln -sf $(notdir $@) $(BIN)/grpcurl

.PHONY: help
help: ## Show targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
