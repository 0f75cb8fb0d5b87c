// swift-tools-version:6.1
// Sockify micro-benchmarks (ordo-one/package-benchmark). A separate package so `swift test` on the main package
// never builds the malloc interposer. Run: `cd Benchmarks && swift package --disable-sandbox benchmark`.
import PackageDescription

/// SwiftPM names a path dependency after its folder, and a checkout's folder name varies (`main`, `sockify`, a CI
/// clone's name), so derive it from this manifest's location: `<root>/Benchmarks/Package.swift`.
let rootPackage = String(#filePath.split(separator: "/").dropLast(2).last ?? "sockify").lowercased()

let package = Package(
    name: "sockify-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        // The repository was renamed from package-benchmark; the new identity avoids the tool's deprecation warning.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        // The root package's logging dependency: the relay benchmark hands ProxyServer a no-op Logger.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "ProtocolBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SockifyProtocol", package: rootPackage),
            ],
            path: "Benchmarks/ProtocolBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RelayBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SockifyProtocol", package: rootPackage),
                .product(name: "SockifyReactor", package: rootPackage),
                .product(name: "SockifyProxy", package: rootPackage),
            ],
            path: "Benchmarks/RelayBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
