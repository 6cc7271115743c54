# brine — build, demo, tests, benchmarks.
GO       ?= go
BIN      := bin/brine
PKGS     := ./...
FUZZTIME ?= 30s
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin

.PHONY: build run test bench lint fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN) ./cmd/brine

## run: a masterless highstate of examples/ into a temporary root, then again (no changes), then test mode.
run: build
	./scripts/demo.sh $(BIN)

## test: installs and starts what the tests need (as root), then every test.
test:
	./scripts/deps.sh
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 12m $(PKGS)

bench: build
	$(GO) test -run='^$$' -bench=. -benchmem -timeout 20m $(PKGS)
	./scripts/bench-process.sh $(BIN)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

## fuzz: each fuzz target for FUZZTIME (default 30s).
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin
