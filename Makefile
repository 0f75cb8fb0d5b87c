# The two entry points the README promises, plus the pieces they are made of.
# `make demo`: install deps, build release, run Xvnc + Sockify serving noVNC. `make test`: install deps, run every test.
SWIFT_FLAGS ?=
.PHONY: deps build release demo test bench clean

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
test: deps
	swift build --build-tests -Xswiftc -warnings-as-errors $(SWIFT_FLAGS)
	swift test --skip-build --parallel --skip 'SockifyIntegrationTests|SockifyLoadTests' $(SWIFT_FLAGS)
	swift test --skip-build --no-parallel --filter 'SockifyIntegrationTests|SockifyLoadTests' $(SWIFT_FLAGS)

bench:
	cd Benchmarks && swift package --disable-sandbox benchmark

clean:
	rm -rf .build
