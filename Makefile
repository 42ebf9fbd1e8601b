# vPoller for Zabbix. `make demo` shows the whole chain on a simulated
# vCenter; `make test` installs what the tests need and runs all of them
# (CI runs exactly that through .ci/run).
GO        ?= go
BIN       ?= bin
GOFLAGS   ?=
STATICCHECK_VERSION ?= v0.8.2
PREFIX    ?= /usr
PLUGIN_DIR ?= $(PREFIX)/sbin/zabbix-agent2-plugin
AGENT_CONF_DIR ?= /etc/zabbix/zabbix_agent2.d/plugins.d
SYSTEMD_DIR ?= /lib/systemd/system
COMMANDS  := vpoller-proxy vpoller-worker vpoller-client zabbix-agent2-plugin-vpoller
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: all build demo test test-deps unit lint fuzz bench bench-long faults e2e package package-test install clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(COMMANDS))

# The main job on the embedded default: proxy + worker serving a simulated
# vCenter on loopback, a few discoveries and polls through the client.
demo: build
	BIN=$(BIN) bash scripts/demo.sh

# Everything CI checks: dependencies, lint, unit and integration tests
# (race detector on), the fault suite, then the end-to-end run on real
# Zabbix servers.
test: test-deps lint unit faults package package-test

test-deps:
	bash scripts/install-test-deps.sh

# -vet=off: lint runs go vet (all analyzers, the faults tag too). -p 4:
# four test binaries at once on 2 cores, as several mostly wait (on
# agents, daemons, simulated vCenters) while the vSphere ones compute.
unit:
	$(GO) test -race -count=1 -vet=off -p 4 -timeout 20m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet -tags faults ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags faults ./...

# Short fuzzing of every fuzz target (FUZZTIME each); the seeds also run in `unit`.
FUZZTIME ?= 15s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

# Side-by-side figures, each beside its reference, in one run: the
# shipped VM template's load on a counting simulated vCenter of 1,000 VMs
# (SOAP calls per interval per 1,000 VMs, QueryPerf per sample period,
# vm.get p50 vs direct govmomi, worker RSS, first full sync; time x2,
# about 8 minutes), then the chain, plugin and proxy ratios.
# BENCH_VMS, BENCH_SCALE (1 = real time) and BENCH_N tune it.
bench:
	bash scripts/bench.sh

# The same on 5,000 VMs in real time (about 20 minutes; not in CI).
bench-long:
	BENCH_LONG=1 bash scripts/bench.sh

# The fault suite (docs/faults.md): the real binaries, python3-zmq peers,
# raw TCP, a standalone simulated vCenter and the real zabbix_agent2 on
# loopback, under kills, stalls, restarts and hostile input. It prints a
# table (one row per scenario, PASS/FAIL against numeric criteria) and
# fails when any row fails. Run as root (prlimit on a running process).
# Local directory mode (no package argument) streams the table.
FAULTS_TIMEOUT ?= 10m
faults: build
	cd faults && FAULTS_BIN=$(abspath $(BIN)) $(GO) test -tags faults -count=1 -timeout $(FAULTS_TIMEOUT)

e2e:
	bash e2e/run.sh

# The packages vpoller and zabbix-agent2-plugin-vpoller, .deb and .rpm, in
# $(DIST)/ (nfpm, a Go tool dependency of this module). PKG_VERSION comes
# from scripts/deb-version.sh (tag, commit count, dirty mark) unless given;
# the binaries are built with it (--version shows it), and the man pages
# are generated from their -h text (internal/manpage/gen).
DIST       ?= dist
PKG_VERSION ?=
PKG_ARCH   ?= $(shell $(GO) env GOARCH)
package:
	@set -e; v='$(PKG_VERSION)'; [ -n "$$v" ] || v=$$(bash scripts/deb-version.sh); \
	echo "package version $$v"; \
	$(MAKE) --no-print-directory build VERSION="$$v"; \
	bash scripts/copyright.sh check $(BIN); \
	mkdir -p $(DIST) && rm -f $(DIST)/*.deb $(DIST)/*.rpm; \
	$(GO) run ./internal/manpage/gen -bin $(BIN) -out $(DIST)/man -source "vpoller $$v" -date "$$(git log -1 --format=%cs)"; \
	for p in vpoller zabbix-agent2-plugin-vpoller; do \
	  bash scripts/deb-changelog.sh $$p "$$v" > $(DIST)/changelog-$$p.gz; done; \
	for p in vpoller plugin; do for f in deb rpm; do \
	  PKG_VERSION="$$v" PKG_ARCH=$(PKG_ARCH) PKG_BIN=$(BIN) PKG_DIST=$(DIST) $(GO) tool nfpm package -f packaging/$$p.yaml -p $$f -t $(DIST)/ >/dev/null; \
	done; done; \
	ls -l $(DIST)/*.deb $(DIST)/*.rpm

# The packages' life cycle (CI, as root; scripts/package-test.sh): versions
# order, the deb installed, started by hand, by the init script, upgraded to
# a rebuilt higher version, purged with the daemons running; the agent
# tests and the e2e on real Zabbix against the installed files; the rpms'
# contents, scriptlets, scratch-root install and erase; lintian.
package-test:
	bash scripts/package-test.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PLUGIN_DIR) $(DESTDIR)$(AGENT_CONF_DIR) $(DESTDIR)/etc/vpoller/vsphere.d
	install -m 0755 $(BIN)/vpoller-proxy $(BIN)/vpoller-worker $(BIN)/vpoller-client $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(BIN)/zabbix-agent2-plugin-vpoller $(DESTDIR)$(PLUGIN_DIR)/
	install -m 0644 conf/zabbix_agent2.d/plugins.d/vpoller.conf $(DESTDIR)$(AGENT_CONF_DIR)/vpoller.conf
	test -e $(DESTDIR)/etc/vpoller/vpoller.conf || install -m 0644 conf/vpoller.conf $(DESTDIR)/etc/vpoller/vpoller.conf
	install -m 0644 conf/vsphere.d/vcenter.example.org.conf.example $(DESTDIR)/etc/vpoller/vsphere.d/
	install -d $(DESTDIR)$(SYSTEMD_DIR) $(DESTDIR)/etc/systemd/system/zabbix-agent2.service.d $(DESTDIR)/etc/init.d
	install -m 0644 conf/systemd/vpoller-proxy.service conf/systemd/vpoller-worker.service $(DESTDIR)$(SYSTEMD_DIR)/
	install -m 0644 conf/systemd/zabbix-agent2.service.d/vpoller-restart.conf $(DESTDIR)/etc/systemd/system/zabbix-agent2.service.d/vpoller-restart.conf
	install -m 0755 conf/init.d/vpoller-proxy conf/init.d/vpoller-worker $(DESTDIR)/etc/init.d/
	$(GO) run ./internal/manpage/gen -bin $(BIN) -out $(BIN)/man -source "vpoller $(VERSION)"
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/zabbix-vpoller/templates
	install -m 0644 $(BIN)/man/*.1.gz $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(BIN)/man/*.8.gz $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 templates/vpoller_*.yaml $(DESTDIR)$(PREFIX)/share/zabbix-vpoller/templates/
	@# The daemons run as the system user vpoller (not when staging into DESTDIR).
	if [ -z "$(DESTDIR)" ] && ! id vpoller >/dev/null 2>&1; then \
	  useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vpoller; fi
	if [ -z "$(DESTDIR)" ]; then chown -R vpoller:vpoller /etc/vpoller/vsphere.d && chmod 0700 /etc/vpoller/vsphere.d; fi
	@# The plugin keeps its vpoller.events positions in the zabbix user's /var/lib/zabbix.
	if [ -z "$(DESTDIR)" ] && [ ! -d /var/lib/zabbix ] && id zabbix >/dev/null 2>&1; then \
	  install -d -o zabbix -g zabbix -m 0750 /var/lib/zabbix; fi

clean:
	rm -rf $(BIN) $(DIST)
