// swift-tools-version:6.1
// Sockify: a websockify-compatible WebSocket-to-TCP proxy. Module map and rules: docs/architecture.md.
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny")]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

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
            linkerSettings: [.linkedLibrary("uring")]),
        // Pure RFC 6455: no dependencies. Ever.
        .target(name: "SockifyProtocol", swiftSettings: swift6),
        .target(name: "SockifyBuffers", swiftSettings: swift6),
        .target(name: "SockifyReactor", dependencies: ["CSockify", "SockifyBuffers", logging], swiftSettings: swift6),
        .target(name: "SockifyTargets", swiftSettings: swift6),
        .target(
            name: "SockifyProxy",
            dependencies: [
                "SockifyProtocol", "SockifyBuffers", "SockifyReactor", "SockifyTargets", logging,
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swift6),
        .executableTarget(name: "SockifyCLI", dependencies: ["SockifyProxy", "SockifyTargets", logging], swiftSettings: swift6),
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
        .testTarget(name: "SockifyTargetsTests", dependencies: ["SockifyTargets"], swiftSettings: swift6),
        .testTarget(name: "SockifyProxyTests", dependencies: ["SockifyProxy", "SockifyProtocol"], swiftSettings: swift6),
        .testTarget(name: "SockifyCLITests", dependencies: ["SockifyCLI", "SockifyTargets"], swiftSettings: swift6),
        .testTarget(name: "SockifyLoadTests", dependencies: ["SockifyLoad", "SockifyReactor"], swiftSettings: swift6),
        .testTarget(name: "SockifyIntegrationTests", dependencies: [], swiftSettings: swift6),
    ]
)
