# borne — the kiosk shell. `make run` shows the demo, `make test` runs
# every test; both install what a fresh Debian machine lacks first.

GO      ?= go
BIN     := bin/borne
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.Version=$(VERSION)

.PHONY: all build run test unit e2e bench lint deps clean

all: build

deps:
	@./deploy/dev-deps.sh

build: deps
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/borne

run: build
	./$(BIN) demo

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Every test: unit tests with the race detector, then the end-to-end tests
# that drive the real binary in a real terminal (tmux).
test: deps lint
	$(GO) test -race -count=1 ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

clean:
	rm -rf bin
