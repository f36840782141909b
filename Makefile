# ctrlab — see `make help`.
GO        ?= go
PKGS      ?= ./...
BIN       := bin
LDFLAGS   := -s -w
export CGO_ENABLED := 0

.PHONY: help build test test-race test-root test-unit test-e2e test-cgroup2 test-arm64 test-arm64-run test-arm64-vm lint cross docs docs-check bench soak vm clean

help: ## show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/ctrlab for this machine (static)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ctrlab ./cmd/ctrlab

test: ## all tests; as root the privileged tests run for real
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-unit: ## only the tests that need no privilege
	CTRLAB_TEST_NOROOT=1 $(GO) test -count=1 $(PKGS)

test-root: ## build as the user, run as root (sudo -n)
	$(GO) test -count=1 -timeout 20m -exec 'sudo -n' $(PKGS)

test-race: ## unit tests with the race detector (needs cgo)
	CGO_ENABLED=1 CTRLAB_TEST_NOROOT=1 $(GO) test -race -count=1 $(PKGS)

test-e2e: build ## end-to-end tests of the binary (root)
	$(GO) test -count=1 -tags e2e -timeout 20m ./test/...

# Packages whose root tests also run in the cgroup-v2 VM (Debian's stock kernel).
CGROUP2_PKGS ?= ./pkg/cgroup/... ./pkg/container/... ./pkg/grade/... ./pkg/overlay/... ./pkg/unshare/... ./test/e2e/...

test-cgroup2: ## root tests inside a pure cgroup-v2 kernel booted under QEMU
	hack/cgroup2-vm/run.sh $(CGROUP2_PKGS)

test-arm64: ## unit tests built for arm64, run under qemu-user (binfmt registered for re-exec)
	hack/binfmt.sh register
	CTRLAB_TEST_NOROOT=1 GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64-static $(PKGS); rc=$$?; hack/binfmt.sh unregister; exit $$rc

test-arm64-run: ## root: `ctrlab run` of the arm64 busybox image under qemu-user (binfmt registered, then removed)
	hack/arm64-run.sh

# The arm64 VM: Debian's linux-image-arm64 under qemu-system-aarch64 (TCG),
# the arm64 ctrlab and test binaries, the arm64 busybox image. TestRunLimits
# is left out: its 100 MB memory hog at --cpus 0.5 needs ~60-70 s under TCG,
# over the test's 60 s poll (pkg/cgroup asserts the limits here instead).
ARM64VM_PKGS ?= ./pkg/cgroup/... ./pkg/container/... ./test/e2e/...

test-arm64-vm: ## root tests and `ctrlab run` of the arm64 busybox image in an arm64 kernel under qemu-system-aarch64
	CTRLAB_VM_ARCH=arm64 CTRLAB_VM_TESTFLAGS='-test.skip=^TestRunLimits$$' hack/cgroup2-vm/run.sh $(ARM64VM_PKGS)

lint: ## gofmt + go vet (for linux and, as the Vagrant host would, darwin)
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet ./pkg/... ./labs/...

cross: ## static binaries for linux/amd64, linux/arm64, linux/arm (v7) into bin/
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ctrlab-linux-amd64 ./cmd/ctrlab
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ctrlab-linux-arm64 ./cmd/ctrlab
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ctrlab-linux-armv7 ./cmd/ctrlab
	@ls -l $(BIN)/ctrlab-linux-*

docs: ## regenerate the CLI reference (docs/cli/) and the lesson pages (docs/concepts/)
	rm -rf docs/cli && $(GO) run ./hack/gendocs docs/cli
	rm -rf docs/concepts && $(GO) run ./hack/lessondocs docs/concepts

docs-check: ## fail if docs/cli/ or docs/concepts/ is stale
	@tmp=$$(mktemp -d) && $(GO) run ./hack/gendocs $$tmp/cli && $(GO) run ./hack/lessondocs $$tmp/concepts >/dev/null && \
	  diff -r $$tmp/cli docs/cli >/dev/null && diff -r $$tmp/concepts docs/concepts >/dev/null || \
	  { echo "docs/cli or docs/concepts is stale: run make docs"; rm -rf $$tmp; exit 1; }; rm -rf $$tmp

bench: build ## benchmarks against runc and crun; writes docs/benchmarks.md
	$(GO) run ./hack/bench -build=false $(BENCH_FLAGS)

soak: build ## 1,000 runs and SIGKILLed runs; asserts nothing leaks
	$(GO) run ./hack/soak -n $(or $(SOAK_N),1000) -c $(or $(SOAK_C),10) $(SOAK_FLAGS)

vm: ## the classroom VM (Vagrant)
	vagrant up

clean: ## remove build output
	rm -rf $(BIN) test/out
