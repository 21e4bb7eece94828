# wpauthz — see README.md. Everything a target needs is installed into
# bin/ (git-ignored) on first use.

SHELL := /usr/bin/env bash -o pipefail
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

# The one version: the binary's (wpauthz version), the image tag and the
# chart's appVersion (test/image checks they agree).
VERSION ?= $(shell cat VERSION)
IMAGE_REPOSITORY ?= ghcr.io/wpauthz/wpauthz
IMAGE_TAR := $(BIN)/wpauthz-image-$(VERSION).tar

CONTROLLER_GEN_VERSION ?= v0.23.0
GRPCURL_VERSION ?= v1.9.4
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GRPCURL := $(BIN)/grpcurl-$(GRPCURL_VERSION)
GHZ_VERSION ?= v0.121.0
GHZ := $(BIN)/ghz-$(GHZ_VERSION)
HELM_VERSION ?= v3.21.4
HELM := $(BIN)/helm-$(HELM_VERSION)
GREMLINS_VERSION ?= v0.6.0
GREMLINS := $(BIN)/gremlins-$(GREMLINS_VERSION)
# envtest's kube-apiserver and kubectl, and etcd: built from the Go module
# proxy by hack/build-envtest-binaries.sh (keep in step with controller/suite_test.go).
ENVTEST_K8S_VERSION ?= v1.37.2
ENVTEST_ETCD_VERSION ?= v3.6.16
ENVTEST_ASSETS := $(BIN)/envtest/k8s-$(ENVTEST_K8S_VERSION)-etcd-$(ENVTEST_ETCD_VERSION)

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC (config/rbac/role.yaml) from kubebuilder markers.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=wpauthz paths=./controller/... output:rbac:artifacts:config=config/rbac
	$(MAKE) --no-print-directory chart-crds

.PHONY: chart-crds
chart-crds: ## Copy config/crd/bases into the chart (charts/wpauthz/files/crds); test/chart fails when they drift.
	rm -f charts/wpauthz/files/crds/*.yaml
	cp config/crd/bases/*.yaml charts/wpauthz/files/crds/

.PHONY: chart-lint
chart-lint: $(HELM) ## helm lint --strict the chart (test/chart also lints it with every value set).
	$(HELM) lint --strict charts/wpauthz

.PHONY: chart-golden
chart-golden: $(HELM) ## Regenerate the golden `helm template` output (test/chart/testdata/golden) from the chart; review the diff.
	WPAUTHZ_HELM=$(HELM) $(GO) test -count=1 ./test/chart -run '^TestChartGolden$$' -update

.PHONY: verify-generated
verify-generated: generate manifests ## Fail if generated files are stale.
	@git diff --exit-code -- api config/crd config/rbac charts/wpauthz/files/crds || { echo "generated files are stale: run 'make generate manifests'"; exit 1; }

.PHONY: lint
lint: ## gofmt check and go vet.
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

##@ Build and run

.PHONY: build
build: ## Build bin/wpauthz.
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN)/wpauthz ./cmd/wpauthz

.PHONY: image
image: ## Build the container image offline, without Docker: bin/wpauthz-image-<VERSION>.tar (an OCI layout that docker/podman load).
	$(GO) run ./hack/image -o $(IMAGE_TAR) -version $(VERSION) -repository $(IMAGE_REPOSITORY) \
		-revision "$$(git rev-parse HEAD 2>/dev/null)" -created "$$(git log -1 --format=%cI 2>/dev/null)"

.PHONY: run
run: build ## Serve the embedded default: policies from config/samples/local.
	@echo "wpauthz: gRPC ext_authz on :9001, HTTP checks on :8080 (policies: config/samples/local)"
	@echo "Get a token to try it:  bin/wpauthz token mint --user-id 2 --login jane --role editor"
	@echo "...or log in:  curl -X POST http://localhost:8080/wp-json/api/v1/token -d username=jane -d password=jane-demo-password"
	$(BIN)/wpauthz serve --config-dir config/samples/local --log-format text

##@ Test

.PHONY: test
test: lint verify-generated $(GRPCURL) $(HELM) envtest-assets ## Run every test (unit, integration, real nginx/Caddy, standalone binary with grpcurl, envtest, the WordPress end-to-end suite).
	hack/test-deps.sh
	WPAUTHZ_GRPCURL=$(GRPCURL) WPAUTHZ_HELM=$(HELM) WPAUTHZ_REQUIRE_HELM=1 WPAUTHZ_REQUIRE_PROXIES=1 WPAUTHZ_REQUIRE_MARIADB=1 WPAUTHZ_REQUIRE_REDIS=1 \
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) WPAUTHZ_REQUIRE_ENVTEST=1 WPAUTHZ_REQUIRE_E2E=1 \
	$(GO) test -race -count=1 -timeout 30m ./...

# MUTATE_PACKAGES: some packages of hack/mutate/thresholds.txt (default: all);
# MUTATE_FULL=1 also runs the tests the table skips; MUTATE_OUT: reports and logs.
MUTATE_PACKAGES ?=
MUTATE_FULL ?=
MUTATE_OUT ?= $(BIN)/mutate
.PHONY: mutate
mutate: $(GREMLINS) ## Mutation testing (gremlins) of the security-critical packages; fails below a package's threshold (hack/mutate/thresholds.txt). Slow; not in `make test`.
	$(GO) run ./hack/mutate -gremlins $(GREMLINS) -out $(MUTATE_OUT) -packages "$(MUTATE_PACKAGES)" $(if $(MUTATE_FULL),-full)

.PHONY: e2e
e2e: ## Only the end-to-end suite (also part of `make test`): a real WordPress behind nginx auth_request and wpauthz (hack/e2e, docs/e2e.md).
	hack/test-deps.sh
	WPAUTHZ_REQUIRE_E2E=1 $(GO) test -race -count=1 ./test/e2e/

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver, kubectl and etcd for envtest into bin/envtest (a no-op when there).
	@KUBE_VERSION=$(ENVTEST_K8S_VERSION) ETCD_VERSION=$(ENVTEST_ETCD_VERSION) ENVTEST_ASSETS_DIR=$(ENVTEST_ASSETS) \
		GO=$(GO) hack/build-envtest-binaries.sh >/dev/null

WP_DIR ?= /usr/share/wordpress
.PHONY: wp-vectors
wp-vectors: ## Regenerate WordPress hash vectors and schema from real WordPress (needs php-cli, the wordpress package).
	php hack/wp-vectors/hashes.php $(WP_DIR) > authz/wpusers/testdata/wp_vectors.json
	php hack/wp-vectors/schema.php $(WP_DIR) > test/mariadbtest/testdata/wordpress-schema.sql

.PHONY: batch-oracle
batch-oracle: ## Regenerate the /batch/v1 oracle corpus, the PHP function answers and the agreement table from real WordPress (needs php-cli, php-cgi, the wordpress package).
	$(GO) test ./authz/wproute -run TestPHPFunctionOracle -count=1 -wproute.write-php-cases
	php hack/wproute-oracle/phpfuncs.php $(WP_DIR)
	$(GO) test ./authz/wproute -run TestPHPFunctionOracle -count=1
	$(GO) test ./authz -run TestBatchOracle -count=1 -authz.write-batch-cases
	php hack/wproute-oracle/gen-batch.php $(WP_DIR)
	$(GO) test ./authz -run TestBatchOracle -count=1 -authz.update-batch-table

##@ Benchmark

# BENCH_FLAGS go to the driver (test/bench/driver): e.g. BENCH_FLAGS="-rounds 5 -n 200000",
# BENCH_FLAGS="-workloads jwt-es256,apikey", BENCH_FLAGS="-o bench.md -work /tmp/wpauthz-bench".
# BENCH_WPAUTHZ is the server measured (hack/bench-profile.sh swaps in a profiling build).
BENCH_FLAGS ?=
BENCH_WPAUTHZ ?= $(BIN)/wpauthz

.PHONY: bench
bench: build $(GHZ) ## Load benchmark: wpauthz vs a do-nothing ext_authz server (the floor) under ghz; see BENCHMARKS.md.
	$(GO) build -trimpath -o $(BIN)/wpauthz-noop ./test/bench/noop
	$(GO) build -trimpath -o $(BIN)/wpauthz-bench ./test/bench/driver
	$(BIN)/wpauthz-bench -wpauthz $(BENCH_WPAUTHZ) -noop $(BIN)/wpauthz-noop -ghz $(GHZ) $(BENCH_FLAGS)

# E2E_BENCH_DIR: a running e2e stack to reuse (hack/e2e/up.sh DIR); empty: a new one.
# ROUNDS, DURATION, CONNECTIONS, MODES: see hack/e2e-bench.sh.
E2E_BENCH_DIR ?=
.PHONY: e2e-bench
e2e-bench: ## End-to-end cost under wrk: plain WordPress vs nginx + wpauthz + bridge, interleaved rounds (docs/e2e.md; needs wrk).
	hack/test-deps.sh
	command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
	hack/e2e-bench.sh $(E2E_BENCH_DIR)

.PHONY: bench-micro
bench-micro: ## Engine micro-benchmarks (go test -bench), Basic/JWT checks and login throughput.
	$(GO) test -run '^$$' -bench . -benchmem ./authz/... ./test/tokenflow/

FUZZTIME ?= 1m
.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 1m), one after another; fails on any failure; keeps new inputs in testdata/fuzz.
	FUZZTIME=$(FUZZTIME) GO=$(GO) hack/fuzz.sh

# The soak (test/soak/driver; BENCHMARKS.md "Soak"): SOAK_DURATION of load at
# SOAK_RATE checks/s on two replicas sharing one redis-server. Fails on any
# request error or wrong decision, and — when the run after warm-up spans
# 20 min or more — on a slope per hour after warm-up above RSS 8 MiB/h,
# goroutines 50/h or open FDs 20/h. SOAK_FLAGS go to the driver, e.g.
# SOAK_FLAGS="-o soak.md -edit-every 30s".
SOAK_DURATION ?= 10m
SOAK_RATE ?= 1500
SOAK_FLAGS ?=
.PHONY: soak
soak: ## Soak (not in `make test`): two replicas + Redis, mixed checks, token churn, a policy edit a minute; every decision verified; RSS/goroutine/FD slopes bounded (SOAK_DURATION, SOAK_RATE).
	hack/test-deps.sh
	$(GO) build -trimpath -tags soak -o $(BIN)/wpauthz-soak ./cmd/wpauthz
	$(GO) run ./test/soak/driver -wpauthz $(BIN)/wpauthz-soak -duration $(SOAK_DURATION) -rate $(SOAK_RATE) $(SOAK_FLAGS)

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(GHZ):
	GOBIN=$(BIN) $(GO) install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)
	mv $(BIN)/ghz $@
	ln -sf $(notdir $@) $(BIN)/ghz

$(GRPCURL):
	GOBIN=$(BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
	mv $(BIN)/grpcurl $@
	ln -sf $(notdir $@) $(BIN)/grpcurl

# go install writes bin/helm; move it to its versioned name at once, so that
# a parallel build never sees a half-written binary under that name.
$(HELM):
	tmp=$$(mktemp -d) && GOBIN=$$tmp $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION) && mv $$tmp/helm $@ && rmdir $$tmp
	ln -sf $(notdir $@) $(BIN)/helm

$(GREMLINS):
	tmp=$$(mktemp -d) && GOBIN=$$tmp $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION) && mv $$tmp/gremlins $@ && rmdir $$tmp

.PHONY: help
help: ## Show targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
