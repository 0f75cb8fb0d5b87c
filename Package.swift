// swift-tools-version:6.1
// Sockify: a websockify-compatible WebSocket-to-TCP proxy. Module map and rules: docs/architecture.md.
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny")]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let cryptoExtras: Target.Dependency = .product(name: "_CryptoExtras", package: "swift-crypto")

let package = Package(
    name: "sockify",
    products: [
        .executable(name: "sockify", targets: ["SockifyCLI"]),
        .executable(name: "sockify-load", targets: ["SockifyLoad"]),
        .library(name: "SockifyProtocol", targets: ["SockifyProtocol"]),
        .library(name: "SockifyBuffers", targets: ["SockifyBuffers"]),
        .library(name: "SockifyReactor", targets: ["SockifyReactor"]),
        .library(name: "SockifyProxy", targets: ["SockifyProxy"]),
        .library(name: "SockifyTargets", targets: ["SockifyTargets"]),  // for tools/fuzz
        // LD_PRELOAD library for wrap mode (`sockify 6080 -- vncserver :1`): moves the wrapped program's bind().
        .library(name: "rebind", type: .dynamic, targets: ["CRebind"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        .target(
            name: "CSockify", path: "CShims/CSockify",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("uring"), .linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // Pure RFC 6455: no dependencies. Ever.
        .target(name: "SockifyProtocol", swiftSettings: swift6),
        .target(name: "SockifyBuffers", swiftSettings: swift6),
        .target(name: "SockifyReactor", dependencies: ["CSockify", "SockifyBuffers", logging], swiftSettings: swift6),
        .target(name: "CRebind", path: "CShims/CRebind", cSettings: [.define("_GNU_SOURCE")], linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "SockifyTargets", dependencies: [crypto, cryptoExtras], swiftSettings: swift6),
        // Token services reached over the network (Redis, HTTP token APIs), run off the reactors.
        .target(name: "SockifyLookup", dependencies: ["SockifyTargets", "SockifyReactor", logging], swiftSettings: swift6),
        .target(
            name: "SockifyProxy",
            dependencies: [
                "SockifyProtocol", "SockifyBuffers", "SockifyReactor", "SockifyTargets", logging, crypto,
            ],
            swiftSettings: swift6),
        .executableTarget(
            name: "SockifyCLI",
            dependencies: ["SockifyProxy", "SockifyProtocol", "SockifyTargets", "SockifyLookup", "SockifyReactor", logging],
            swiftSettings: swift6),
        .executableTarget(
            name: "SockifyLoad",
            dependencies: [
                "SockifyProtocol", "SockifyReactor",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swift6),
        .testTarget(
            name: "SockifyProtocolTests",
            dependencies: ["SockifyProtocol", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swift6),
        .testTarget(name: "SockifyBuffersTests", dependencies: ["SockifyBuffers"], swiftSettings: swift6),
        .testTarget(name: "SockifyReactorTests", dependencies: ["SockifyReactor", "CSockify"], swiftSettings: swift6),
        .testTarget(name: "SockifyTargetsTests", dependencies: ["SockifyTargets", crypto, cryptoExtras], swiftSettings: swift6),
        .testTarget(name: "SockifyLookupTests", dependencies: ["SockifyLookup", "SockifyTargets", "SockifyReactor"], swiftSettings: swift6),
        .testTarget(
            name: "SockifyProxyTests", dependencies: ["SockifyProxy", "SockifyProtocol", "SockifyReactor", logging],
            swiftSettings: swift6),
        .testTarget(name: "SockifyCLITests", dependencies: ["SockifyCLI", "SockifyTargets", logging], swiftSettings: swift6),
        .testTarget(name: "SockifyLoadTests", dependencies: ["SockifyLoad", "SockifyReactor"], swiftSettings: swift6),
        .testTarget(name: "SockifyIntegrationTests", dependencies: [], swiftSettings: swift6),
    ]
)
