// Root of the black-box suite: spawned proxy binaries driven by independent peers over loopback.
//
// Run against websockify 0.13.0 to validate the tests, and against sockify for the real thing:
//   SOCKIFY_PROXY=websockify swift test --scratch-path .build-integ --filter SockifyIntegrationTests
//   swift test --scratch-path .build-integ --filter SockifyIntegrationTests          (sockify, the default)
// Differences websockify is known to have are in the `Deviation` allow-list (ProxyKind.swift).
import Testing

/// Every nested suite runs one test at a time: the bulk and memory tests measure a process on a 2-core machine,
/// and parallel 256 MiB transfers would only add noise and time-outs.
@Suite("Proxy binary (black box)", .serialized, .timeLimit(.minutes(1)))
struct ProxyBinaryTests {}

/// Starts an in-process target and the proxy in front of it, runs `body`, and tears both down.
func withProxy<T: Sendable>(
    to behavior: LoopbackTarget.Behavior,
    options: [String] = [],
    _ body: (ProxyUnderTest, LoopbackTarget) async throws -> T
) async throws -> T {
    let target = try LoopbackTarget(behavior)
    defer { target.stop() }
    let proxy = try await ProxyUnderTest.start(options: options, target: ["127.0.0.1:\(target.port)"])
    defer { proxy.stop() }
    return try await body(proxy, target)
}
