// swift-tools-version: 6.0
// The layout follows ../shared/DESIGN.md: dependencies point one way,
// mused → MuseServer → {MuseIPC, MuseSnapshot, MuseScoring};
// MuseIPC → {CMuse, CMuseDaemon}. Only MuseIPC (and clients) import the C targets.
import PackageDescription

let package = Package(
    name: "Muse",
    products: [
        .executable(name: "mused", targets: ["mused"]),
        .executable(name: "musectl", targets: ["musectl"]),
        .library(name: "MuseClient", targets: ["MuseClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // muse.h: the shared-memory ABI and the client API.
        .target(name: "CMuse"),
        // Daemon-only system calls Swift cannot make directly; never part of the client API.
        .target(name: "CMuseDaemon", dependencies: ["CMuse"]),
        .target(name: "MuseScoring"),
        .target(name: "MuseSnapshot", dependencies: ["MuseScoring"]),
        .target(name: "MuseIPC", dependencies: ["CMuse", "CMuseDaemon"]),
        // The control socket's messages, shared by mused and musectl.
        .target(name: "MuseControl"),
        .target(name: "MuseServer", dependencies: ["MuseIPC", "MuseSnapshot", "MuseScoring", "MuseControl",
                                                   .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "MuseClient", dependencies: ["CMuse"]),
        .executableTarget(name: "mused", dependencies: [
            "MuseServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "musectl",
            dependencies: ["MuseClient", "MuseScoring", "MuseControl",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "tools/musectl"),
        .executableTarget(name: "muse-bench", dependencies: ["MuseClient", "CMuse", "CMuseDaemon"], path: "tools/muse-bench"),
        .executableTarget(name: "muse-bench-maps", dependencies: ["MuseScoring"], path: "tools/muse-bench-maps"),
        .executableTarget(name: "muse-bench-models", dependencies: ["MuseScoring"], path: "tools/muse-bench-models"),
        .testTarget(name: "MuseScoringTests", dependencies: ["MuseScoring"], exclude: ["Fixtures"]),
        .testTarget(name: "MuseServerTests", dependencies: ["MuseServer", "MuseIPC", "MuseScoring", "CMuse"]),
        .testTarget(name: "MuseIPCTests", dependencies: ["MuseIPC", "CMuse", "CMuseDaemon"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MuseClient", "CMuse"], exclude: ["clients"]),
    ]
)
