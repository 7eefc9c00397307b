# borne — the kiosk shell. `make run` shows the demo, `make test` runs
# every test; both install what a fresh Debian machine lacks first.

GO      ?= go
BIN     := bin/borne
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.Version=$(VERSION)

.PHONY: all build run test unit e2e bench lint deps test-deps clean deb install

all: build

deps:
	@./deploy/dev-deps.sh build

test-deps:
	@./deploy/dev-deps.sh test

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
test: test-deps lint
	$(GO) test -race -count=1 ./...

bench: test-deps
	./deploy/bench.sh

# The Debian package, into $(DEB_DIR). nfpm runs from the module proxy at a
# pinned version and stays out of go.mod (newer releases need modules the
# proxy does not serve).
NFPM_VERSION := v2.45.0
DEB_DIR      ?= dist
DEB_VERSION  ?= $(shell v=$$(git describe --tags --abbrev=0 2>/dev/null); echo $${v:-v0.0.0} | sed 's/^v//')+git$(shell git rev-parse --short HEAD 2>/dev/null || echo 0)
GOARCH       ?= $(shell $(GO) env GOARCH)

deb: build
	mkdir -p $(DEB_DIR)
	VERSION='$(DEB_VERSION)' GOARCH='$(GOARCH)' $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) \
	  pkg --config deploy/nfpm.yaml --packager deb --target $(DEB_DIR)/

# A plain install of the same files as the package, under $(DESTDIR). Into
# the running system (no DESTDIR, as root) it also makes the kiosk user and
# its folder and sets the owners, as the package does; an existing
# /etc/borne/borne.toml is kept.
DESTDIR ?=
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)/usr/bin/borne
	install -D -m 0644 deploy/systemd/borne.service $(DESTDIR)/usr/lib/systemd/system/borne.service
	install -D -m 0644 deploy/systemd/borne-kiosk.service $(DESTDIR)/usr/lib/systemd/system/borne-kiosk.service
	install -D -m 0644 deploy/systemd/user-preset/80-borne.preset $(DESTDIR)/usr/lib/systemd/user-preset/80-borne.preset
	install -D -m 0644 deploy/systemd/borne-browser-policy.service $(DESTDIR)/usr/lib/systemd/system/borne-browser-policy.service
	install -D -m 0644 deploy/systemd/borne-browser-policy.path $(DESTDIR)/usr/lib/systemd/system/borne-browser-policy.path
	install -d -m 0755 $(DESTDIR)/etc/chromium/policies/managed
	install -D -m 0644 deploy/sysusers/borne.conf $(DESTDIR)/usr/lib/sysusers.d/borne.conf
	install -D -m 0644 deploy/tmpfiles/borne.conf $(DESTDIR)/usr/lib/tmpfiles.d/borne.conf
	install -D -m 0644 deploy/logind/borne.conf $(DESTDIR)/usr/lib/systemd/logind.conf.d/borne.conf
	install -D -m 0644 deploy/system/borne.conf $(DESTDIR)/usr/lib/systemd/system.conf.d/borne.conf
	install -D -m 0644 deploy/sysctl/90-borne.conf $(DESTDIR)/usr/lib/sysctl.d/90-borne.conf
	install -d -m 0750 $(DESTDIR)/etc/borne $(DESTDIR)/var/lib/borne
	[ -e $(DESTDIR)/etc/borne/borne.toml ] || install -m 0640 deploy/examples/fixed-site.toml $(DESTDIR)/etc/borne/borne.toml
	[ -e $(DESTDIR)/etc/borne/sync.token ] || install -m 0640 deploy/sync.token $(DESTDIR)/etc/borne/sync.token
	[ -e $(DESTDIR)/etc/borne/foot.ini ] || install -m 0644 deploy/foot/foot.ini $(DESTDIR)/etc/borne/foot.ini
	[ -e $(DESTDIR)/etc/borne/sway.conf ] || install -m 0644 deploy/sway/borne.conf $(DESTDIR)/etc/borne/sway.conf
	[ -e $(DESTDIR)/etc/pam.d/borne ] || install -D -m 0644 deploy/pam/borne $(DESTDIR)/etc/pam.d/borne
	install -D -m 0644 -t $(DESTDIR)/usr/share/doc/borne/examples deploy/examples/fixed-site.toml deploy/examples/itinerant.toml deploy/examples/demo.toml
	if [ -z '$(DESTDIR)' ]; then ./deploy/scripts/postinst configure; fi

# The README's pictures of the real screen: the shell in foot under a
# headless sway (the shipped config), taken with grim by the end-to-end
# tests (need sway, foot, grim, wtype and chromium).
screens:
	mkdir -p docs/screens
	BORNE_SCREENS=$(CURDIR)/docs/screens $(GO) test -count=1 -run 'TestE2ESwayCallEnds|TestE2ESwayVisio' ./cmd/borne/

clean:
	rm -rf bin dist
