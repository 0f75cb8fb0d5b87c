# The two entry points the README promises, plus the pieces they are made of.
# `make demo`: install deps, build release, run Xvnc + Sockify serving noVNC. `make test`: install deps, run every test.
SWIFT_FLAGS ?=
.PHONY: deps build release demo test bench clean release-products install install-websockify-link uninstall

# `make install`: where things go. DESTDIR stages the tree for packaging (`make install DESTDIR=/tmp/pkg`).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
DESTDIR ?=
# WEBSOCKIFY_LINK=1 also installs `websockify -> sockify` in BINDIR (noVNC's novnc_proxy runs `websockify` from
# PATH); FORCE=1 lets it replace a regular websockify file (websockify.py). RELEASE_DIR=DIR installs the products
# already built in DIR instead of building them (e.g. `sudo make install RELEASE_DIR=.build/release`).
WEBSOCKIFY_LINK ?= 0
FORCE ?= 0
RELEASE_DIR ?=
INSTALL_ENV = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BINDIR="$(BINDIR)" LIBDIR="$(LIBDIR)" \
	WEBSOCKIFY_LINK="$(WEBSOCKIFY_LINK)" FORCE="$(FORCE)"

deps:
	bash tools/setup-deps.sh

build:
	swift build $(SWIFT_FLAGS)

release:
	swift build -c release $(SWIFT_FLAGS)

demo: deps release
	bash tools/demo.sh

# Unit tests run in parallel; the black-box suites (spawned proxies, websockify, Xvnc, Chromium, load runs) one at
# a time, so that timing-sensitive checks do not compete for the 2 cores.
# The release products are built first: InstallTests installs them and CI's soak runs them, so neither builds its own.
# The black-box proxy suites run on `auto` (io_uring where the kernel allows it), then again pinned to epoll
# (SOCKIFY_IO_BACKEND stands in for --io-backend auto), so both backends pass the same tests.
test: deps
	swift build --build-tests -Xswiftc -warnings-as-errors $(SWIFT_FLAGS)
	$(MAKE) --no-print-directory release-products
	swift test --skip-build --parallel --skip 'SockifyIntegrationTests|SockifyLoadTests' $(SWIFT_FLAGS)
	swift test --skip-build --no-parallel --filter 'SockifyIntegrationTests|SockifyLoadTests' $(SWIFT_FLAGS)
	SOCKIFY_IO_BACKEND=epoll swift test --skip-build --no-parallel --filter 'ProxyBinaryTests' $(SWIFT_FLAGS)

bench:
	cd Benchmarks && swift package --disable-sandbox benchmark

clean:
	rm -rf .build

# One product per command: SwiftPM builds only the last of several --product flags.
release-products:
	swift build -c release --product sockify $(SWIFT_FLAGS)
	swift build -c release --product sockify-load $(SWIFT_FLAGS)
	swift build -c release --product rebind $(SWIFT_FLAGS)

# sockify and sockify-load to $(BINDIR), librebind.so (wrap mode's LD_PRELOAD library) to $(LIBDIR)/sockify/.
# The websockify check runs first, so a refused install neither builds nor copies anything.
install:
	$(INSTALL_ENV) bash tools/install.sh check
ifeq ($(RELEASE_DIR),)
	$(MAKE) --no-print-directory release-products
	$(INSTALL_ENV) bash tools/install.sh install "$$(swift build -c release --show-bin-path $(SWIFT_FLAGS))"
else
	$(INSTALL_ENV) bash tools/install.sh install "$(RELEASE_DIR)"
endif

install-websockify-link:
	$(INSTALL_ENV) bash tools/install.sh link

uninstall:
	$(INSTALL_ENV) bash tools/install.sh uninstall
