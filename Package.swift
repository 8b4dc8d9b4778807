// swift-tools-version: 6.0
// The layout follows ../shared/DESIGN.md: dependencies point one way,
// mused → MuseServer → {MuseIPC, MuseSnapshot, MuseScoring}; MuseIPC → CMuse.
import PackageDescription

let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "Muse",
    products: [
        .executable(name: "mused", targets: ["mused"]),
        .executable(name: "musectl", targets: ["musectl"]),
        .library(name: "MuseClient", targets: ["MuseClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CMuse"),
        .target(name: "MuseScoring"),
        .target(name: "MuseSnapshot", dependencies: ["MuseScoring"]),
        .target(name: "MuseIPC", dependencies: ["CMuse"]),
        .target(name: "MuseServer", dependencies: ["MuseIPC", "MuseSnapshot", "MuseScoring"]),
        .target(name: "MuseClient", dependencies: ["CMuse"]),
        .executableTarget(name: "mused", dependencies: ["MuseServer"]),
        .executableTarget(
            name: "musectl",
            dependencies: ["MuseClient", "MuseScoring", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "tools/musectl"),
        .executableTarget(name: "muse-bench-models", dependencies: ["MuseScoring"], path: "tools/muse-bench-models",
                          swiftSettings: optimize),
        .testTarget(name: "MuseScoringTests", dependencies: ["MuseScoring"], exclude: ["Fixtures"]),
    ]
)
