# image-apiserver. `make run` starts a standalone server; `make test` runs every check.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

OUTPUT     ?= _output
BIN        := $(OUTPUT)/bin
DATA_DIR   ?= $(OUTPUT)/data
KUBECONFIG_OUT ?= $(OUTPUT)/kubeconfig
PORT       ?= 8443
VERSION    ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo v0.1.0-dev+$$(git rev-parse --short HEAD 2>/dev/null || echo unknown))
# Our own version package: k8s.io/component-base/version is the Kubernetes version the generic
# apiserver emulates, and must stay as built.
VERSION_PKG := github.com/image-apiserver/image-apiserver/pkg/version
# /version reports the Kubernetes libraries the server is built with (k8s.io/apiserver v0.X.Y
# is Kubernetes v1.X.Y).
KUBE_VERSION := $(shell go list -m -f '{{.Version}}' k8s.io/apiserver 2>/dev/null | sed 's/^v0\./v1./')
LDFLAGS    := -X $(VERSION_PKG).gitVersion=$(VERSION) \
              -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
              -X $(VERSION_PKG).gitCommit=$(shell git rev-parse HEAD 2>/dev/null || echo unknown) \
              -X $(VERSION_PKG).buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
GO_TEST_FLAGS ?=

export IMAGE_APISERVER_BIN := $(abspath $(BIN)/image-apiserver)
export REAL_BINARIES_DIR   := $(abspath $(BIN))

.PHONY: all build run test verify unit test-integration test-registry faults-short faults fuzz-short fuzz tools update bench bench-index bench-hotstream bench-import scale scale-short e2e image clean

all: build

build: ## Build the server binary into _output/bin.
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/image-apiserver ./cmd/image-apiserver

run: build ## Start a standalone server with an embedded etcd; writes _output/kubeconfig.
	@echo "Starting image-apiserver on https://127.0.0.1:$(PORT) (data in $(DATA_DIR))."
	@echo "Once it is ready, in another shell:"
	@echo "  export KUBECONFIG=$(abspath $(KUBECONFIG_OUT))"
	@echo "  kubectl api-resources --api-group=image.openshift.io   # kubectl: $(abspath $(BIN))/kubectl after 'make tools'"
	@echo "  kubectl create -f examples/imagestream.yaml && kubectl create -f examples/mapping.yaml"
	$(BIN)/image-apiserver --standalone --data-dir $(DATA_DIR) --secure-port $(PORT) \
	  --write-kubeconfig $(KUBECONFIG_OUT) --registry-hostname image-registry.local:5000

tools: ## Build the real etcd, kube-apiserver and kubectl the tests use (cached by go.sum hash).
	hack/build-realbins.sh

verify: ## gofmt, go vet, go mod tidy (of the nested test modules too) and generated code are clean.
	@out=$$(gofmt -l cmd pkg test); if [[ -n "$$out" ]]; then echo "gofmt needed: $$out"; exit 1; fi
	go vet ./...
	hack/verify-nested-modules.sh
	hack/verify-codegen.sh
	@cp go.mod $(OUTPUT)/go.mod.bak 2>/dev/null || { mkdir -p $(OUTPUT); cp go.mod $(OUTPUT)/go.mod.bak; }
	@cp go.sum $(OUTPUT)/go.sum.bak
	go mod tidy
	@if ! diff -q go.mod $(OUTPUT)/go.mod.bak >/dev/null || ! diff -q go.sum $(OUTPUT)/go.sum.bak >/dev/null; then \
	  git diff go.mod go.sum; cp $(OUTPUT)/go.mod.bak go.mod; cp $(OUTPUT)/go.sum.bak go.sum; \
	  echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi

unit: ## Unit tests (packages under pkg/ and cmd/).
	go test $(GO_TEST_FLAGS) ./cmd/... ./pkg/...

test-integration: build tools ## Integration tests: the real binary over HTTPS, real etcd, real kubectl (under the race detector).
	# -count=1: the tests run binaries, which the test cache does not see change.
	go test -race $(GO_TEST_FLAGS) -count=1 -timeout 20m ./test/integration/...

test-registry: build ## Tests against a real CNCF distribution registry run in-process (test/registry, a nested module): push notifications and imports with credentials.
	# -count=1: the tests run the server binary, which the test cache does not see change.
	cd test/registry && go test $(GO_TEST_FLAGS) -count=1 -timeout 10m ./...

faults-short: build tools ## The fault suite's short form: a few scenarios at concurrency 16 (part of make test).
	status=0; FAULTS_REPORT=$(abspath $(OUTPUT))/faults-short.md \
	  go test $(GO_TEST_FLAGS) -count=1 -timeout 10m ./test/faults/ || status=$$?; \
	  cat $(OUTPUT)/faults-short.md 2>/dev/null || true; exit $$status

faults: build tools ## Fault suite: every scenario at concurrency 16 and 64; the table is also written to _output/faults.md.
	# go test hides a passing package's output without -v, hence the report file.
	status=0; FAULTS=full FAULTS_REPORT=$(abspath $(OUTPUT))/faults.md \
	  go test $(GO_TEST_FLAGS) -count=1 -timeout 40m ./test/faults/ || status=$$?; \
	  cat $(OUTPUT)/faults.md 2>/dev/null || true; exit $$status

e2e: build tools ## End-to-end: the binary aggregated behind a real kube-apiserver (test/e2e), driven with the real kubectl.
	go vet -tags e2e ./test/e2e/
	# -count=1: the tests run binaries, which the test cache does not see change.
	go test $(GO_TEST_FLAGS) -tags e2e -count=1 -timeout 15m ./test/e2e/...

FUZZTIME ?= 60s

fuzz: ## Every Go fuzz target in turn, FUZZTIME each (default 60s); failing inputs land in testdata/fuzz/.
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

fuzz-short: ## Every fuzz target for 5s, as make test runs them.
	FUZZTIME=5s hack/fuzz.sh

test: verify unit fuzz-short test-integration test-registry e2e faults-short scale-short ## Everything CI runs.

bench: build tools ## Mapping throughput vs raw etcd transactions, at concurrency 1, 16 and 64.
	go test -run '^$$' -bench BenchmarkMappingThroughput -benchtime 1x -timeout 20m ./test/bench/

bench-hotstream: build tools ## One hot stream, 64 clients for 60 s (HOTSTREAM_DURATION), with and without --max-tag-history (D16).
	go test -run '^$$' -bench BenchmarkHotStream -benchtime 1x -timeout 20m ./test/bench/

bench-index: build tools ## Image index memory: bytes per image in-process, and the server's VmRSS with 100 000 images (INDEX_BENCH_IMAGES) in etcd.
	go test -run '^$$' -bench BenchmarkIndexMemory -benchtime 1x ./pkg/imageindex/
	go test -run '^$$' -bench BenchmarkServerMemoryWithImages -benchtime 1x -timeout 30m ./test/bench/

bench-import: build ## Imports and notifications against a real registry (test/registry): a 50-tag repository import at the default pace and unthrottled, and registry notification events/s into mappings beside direct mappings (REGISTRY_BENCH_EVENTS, BENCH_ROUNDS).
	cd test/registry && go test -run '^$$' -bench 'BenchmarkImportRepository|BenchmarkNotificationThroughput' -benchtime 1x -timeout 30m ./...

SCALE_IMAGES  ?= 100000
SCALE_STREAMS ?= 10000
SCALE_BURST   ?= 60s
export SCALE_IMAGES SCALE_STREAMS SCALE_BURST

scale: build tools ## SCALE_IMAGES registry-shaped images pushed into SCALE_STREAMS streams of a fresh server: memory, etcd size, restart, LIST, GET, layers, mapping latency, a SCALE_BURST push burst. SCALE_SERVER_ARGS adds server flags.
	go test -run '^$$' -bench BenchmarkScale -benchtime 1x -timeout 60m ./test/bench/

scale-short: build tools ## The scale harness at 500 images, asserting only that every step works (part of make test).
	go test $(GO_TEST_FLAGS) -count=1 -run TestScaleShort -timeout 10m ./test/bench/

IMAGE ?= ghcr.io/image-apiserver/image-apiserver:latest
CONTAINER_TOOL ?= docker
image: ## Build the container image (Dockerfile) with docker or podman: make image IMAGE=registry.example.com/image-apiserver:v0.1.0
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) --build-arg KUBE_VERSION=$(KUBE_VERSION) --build-arg GIT_COMMIT=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
	  --build-arg BUILD_DATE=$$(date -u +%Y-%m-%dT%H:%M:%SZ) -t $(IMAGE) .

update: ## Regenerate generated code.
	hack/update-codegen.sh

clean:
	rm -rf $(OUTPUT)
