// swift-tools-version:6.1
// Sockify's libFuzzer harnesses, one executable per harness. A separate package so that `swift build` and
// `swift test` on the product never see sanitizer flags. Build and run them all with `tools/fuzz/run.sh [seconds]`.
//
// The sanitizers come from the command line (`swift build --sanitize fuzzer --sanitize address`), not from
// `unsafeFlags` here: only command-line flags reach the root package's modules, and libFuzzer needs their coverage.
import PackageDescription

/// SwiftPM names a path dependency after its folder, and a checkout's folder name varies (`main`, `sockify`, a CI
/// clone's name), so derive it from this manifest's location: `<root>/tools/fuzz/Package.swift`.
let rootPackage = String(#filePath.split(separator: "/").dropLast(3).last ?? "sockify").lowercased()

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

/// One harness: an executable whose `main` is libFuzzer's; the harness file only defines `LLVMFuzzerTestOneInput`.
func harness(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: rootPackage) },
        swiftSettings: swift6
    )
}

let package = Package(
    name: "sockify-fuzz",
    dependencies: [.package(path: "../../")],
    targets: [
        .target(name: "FuzzSupport", swiftSettings: swift6),
        harness("FuzzHTTPHead", ["SockifyProtocol", "SockifyTargets"]),
        harness("FuzzFrames", ["SockifyProtocol"]),
        harness("FuzzTokenFile", ["SockifyTargets"]),
        harness("FuzzMasking", ["SockifyProtocol"]),
        harness("FuzzProxyHeader", ["SockifyProtocol"]),
        harness("FuzzJWT", ["SockifyTargets"]),
    ]
)
