// swift-tools-version: 6.0
// The layout follows docs/architecture.md: dependencies point one way,
// mused → MuseServer → {MuseIPC, MuseSnapshot, MuseScoring, MuseControl};
// MuseSnapshot → {MuseCore, MuseScoring}; MuseScoring → {MuseCore,
// CMuseKernels (its batch kernels)}; MuseIPC → {MuseCore, CMuse, CMuseDaemon};
// MuseControl → MuseCore. MuseCore → {CMuse, CMuseDaemon} is the leaf: the
// shared vocabulary (typed ids, completion statuses, names and muse.h's
// limits, FNV-1a) and the system behind one thin layer (SystemCallError,
// writeAll, threads and the clock), on no other Swift module. Only MuseIPC,
// MuseCore (for muse.h's constants and the daemon shims), MuseScoring (for
// its kernels) and clients import the C targets.
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
        // The metrics endpoint's registry and exposition format (MuseServer only).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // muse.h: the shared-memory ABI and the client API.
        .target(name: "CMuse"),
        // Daemon-only system calls Swift cannot make directly; never part of the client API.
        .target(name: "CMuseDaemon", dependencies: ["CMuse"]),
        // The shared vocabulary: typed ids, completion statuses, the tenant,
        // intent and feature name rules and limits mused imposes (for the
        // snapshot code and musectl to check them too), FNV-1a through
        // muse.h; system calls behind one thin layer (SystemCallError,
        // writeAll, ThreadSupport, Locked, PeerCredentials: CMuseDaemon for
        // the thread and peer-credential shims); the TOML key-to-line map
        // mused's configuration and the manifest report with; the
        // regular-file reader musectl and the manifest name errors with.
        .target(name: "MuseCore", dependencies: ["CMuse", "CMuseDaemon"]),
        // The bitvector scorer's batch kernels: C for per-function target
        // attributes (AVX2, AVX-512) chosen at run time, which Swift lacks.
        .target(name: "CMuseKernels"),
        .target(name: "MuseScoring", dependencies: ["MuseCore", "CMuseKernels"]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        // liburing behind a few C functions: its header and Glibc's clash
        // when both are imported into Swift.
        .target(name: "CURing", linkerSettings: [.linkedLibrary("uring")]),
        .target(name: "MuseSnapshot", dependencies: ["MuseCore", "MuseScoring", "CLZ4", "CURing"]),
        // The TOML manifest `musectl snapshot build` reads; apart from
        // MuseSnapshot so the daemon does not link a TOML parser.
        .target(name: "MuseManifest", dependencies: [
            "MuseCore", "MuseSnapshot", "MuseScoring", .product(name: "TOMLKit", package: "TOMLKit")]),
        // CURing: a worker waits on more than 128 segments' doorbells through io_uring.
        .target(name: "MuseIPC", dependencies: ["MuseCore", "CMuse", "CMuseDaemon", "CURing"]),
        // The control socket's messages, shared by mused and musectl.
        .target(name: "MuseControl", dependencies: ["MuseCore"]),
        .target(name: "MuseServer", dependencies: ["MuseIPC", "MuseSnapshot", "MuseScoring", "MuseControl",
                                                   .product(name: "TOMLKit", package: "TOMLKit"),
                                                   .product(name: "Prometheus", package: "swift-prometheus")]),
        .target(name: "MuseClient", dependencies: ["CMuse"]),
        .executableTarget(name: "mused", dependencies: [
            "MuseServer", "MuseSnapshot", "MuseCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "musectl",
            dependencies: [
                "MuseClient", "MuseCore", "MuseScoring", "MuseSnapshot", "MuseManifest", "MuseControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "tools/musectl"),
        // Benchmark fixtures shared by the benchmark tools (never by the product).
        .target(name: "MuseBenchSupport", dependencies: ["MuseScoring"], path: "tools/bench-support"),
        // The machine's floor for muse-bench latency: a shared-memory ping-pong with no Muse code.
        .target(name: "CMuseBenchFloor", path: "tools/bench-floor"),
        .executableTarget(name: "muse-bench", dependencies: ["MuseClient", "MuseControl", "CMuse", "CMuseDaemon", "CMuseBenchFloor",
                                                            "MuseScoring", "MuseSnapshot", "MuseBenchSupport"],
                          path: "tools/muse-bench"),
        .executableTarget(name: "muse-bench-serving", dependencies: ["MuseServer", "MuseIPC", "MuseScoring", "CMuse"],
                          path: "tools/muse-bench-serving"),
        .executableTarget(name: "muse-bench-maps", dependencies: ["MuseScoring"], path: "tools/muse-bench-maps"),
        .executableTarget(name: "muse-bench-models", dependencies: ["MuseScoring"], path: "tools/muse-bench-models"),
        // Child processes for the tests (never for the product).
        .target(name: "CMuseTestSupport", path: "Tests/CMuseTestSupport"),
        .target(name: "MuseTestSupport", dependencies: ["CMuseTestSupport"], path: "Tests/MuseTestSupport"),
        .testTarget(name: "MuseScoringTests", dependencies: ["MuseScoring", "MuseTestSupport"], exclude: ["Fixtures"]),
        .executableTarget(name: "muse-bench-snapshot", dependencies: ["MuseSnapshot", "MuseScoring", "CLZ4", "MuseBenchSupport"],
                          path: "tools/muse-bench-snapshot"),
        .testTarget(name: "MuseSnapshotTests", dependencies: ["MuseSnapshot", "MuseManifest", "MuseScoring", "CLZ4",
                                                      "MuseTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "MuseServerTests", dependencies: [
            "MuseServer", "MuseCore", "MuseIPC", "MuseScoring", "MuseSnapshot", "MuseManifest", "CMuse"]),
        .testTarget(name: "MuseCoreTests", dependencies: ["MuseCore", "CMuse"]),
        .testTarget(name: "MuseIPCTests", dependencies: ["MuseIPC", "CMuse", "CMuseDaemon", "MuseScoring"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MuseClient", "CMuse", "MuseTestSupport", "MuseSnapshot", "MuseScoring"],
                    exclude: ["clients"]),
    ]
)
