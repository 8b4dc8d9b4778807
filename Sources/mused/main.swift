#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import MuseServer
import MuseSnapshot

/// mused: the Muse scorer daemon. A thin main; the daemon lives in MuseServer.
struct Mused: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mused", abstract: "Score events for the host's tenants over shared memory.")

    @Option(name: .customLong("runtime-dir"), help: "Directory for the tenant segments.")
    var runtimeDirectory = "/run/muse"

    @Option(name: .customLong("tenant"), help: ArgumentHelp(
        "A tenant: NAME[:GROUP[:CHANNELS[:RING_DEPTH]]]. Repeatable.", valueName: "spec"))
    var tenants: [String] = ["demo"]

    @Option(help: "Worker threads (1-32).")
    var workers = 1

    @Option(name: .customLong("spin-us"), help: "Microseconds an idle worker spins before it sleeps (0-1000000).")
    var spinMicroseconds: UInt64 = 100

    @Flag(name: .customLong("allow-foreign-runtime-dir"), help: ArgumentHelp(
        "Accept a runtime directory owned by another user or writable by others.",
        discussion: "Whoever can write the runtime directory can replace segments and read tenants' events."))
    var allowForeignRuntimeDirectory = false

    @Option(name: .customLong("admin-group"), help: "Group whose members may use the control socket (besides root).")
    var adminGroup: String?

    @Option(name: .long, help: "Snapshot file to serve at start when the state directory records none.")
    var snapshot: String?

    @Option(name: .customLong("state-dir"), help: "Where mused keeps the snapshot it serves, for restarts.")
    var stateDirectory = "/var/lib/muse"

    @Option(name: .customLong("snapshot-io"), help: "How snapshots are read: auto (io_uring, else read), io_uring, read.")
    var snapshotIO = "auto"

    func validate() throws {
        guard ["auto", "io_uring", "read"].contains(snapshotIO) else {
            throw ValidationError("--snapshot-io must be auto, io_uring or read, got '\(snapshotIO)'")
        }
        guard spinMicroseconds <= 1_000_000 else {
            throw ValidationError("--spin-us must be 0...1000000 (one second), got \(spinMicroseconds)")
        }
    }

    func run() throws {
        var config = DaemonConfiguration(runtimeDirectory: runtimeDirectory, tenants: [], workers: workers,
                                         spinNanoseconds: spinMicroseconds * 1000)
        if allowForeignRuntimeDirectory { config.runtimeDirectoryTrust = .anyOwner }
        config.adminGroup = adminGroup
        for spec in tenants { config.tenants.append(try Self.parseTenant(spec)) }

        // A closed log pipe (journald restarting) must not kill the daemon.
        signal(SIGPIPE, SIG_IGN)
        // Block the stop signals before any thread starts so only sigwait sees them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let io: SnapshotIO = snapshotIO == "io_uring" ? .ioUring : snapshotIO == "read" ? .plainRead : .auto
        let snapshots = SnapshotSource(loader: SnapshotLoader(io: io), state: try StateDirectory(path: stateDirectory))
        let daemon = Daemon(configuration: config, snapshots: snapshots,
                            initial: .recordedOr(snapshot: snapshot.map { URL(filePath: $0).standardizedFileURL.path }))
        try daemon.start()
        var received: Int32 = 0
        sigwait(&signals, &received)
        Log.info("stopping", ["signal": received])
        daemon.stop()
    }

    static func parseTenant(_ spec: String) throws -> TenantConfiguration {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard !parts[0].isEmpty, parts.count <= 4 else {
            throw ValidationError("--tenant '\(spec)': expected NAME[:GROUP[:CHANNELS[:RING_DEPTH]]]")
        }
        var tenant = TenantConfiguration(name: parts[0])
        if parts.count > 1, !parts[1].isEmpty { tenant.group = parts[1] }
        if parts.count > 2 {
            guard let channels = Int(parts[2]) else { throw ValidationError("--tenant '\(spec)': CHANNELS is not a number") }
            tenant.channels = channels
        }
        if parts.count > 3 {
            guard let depth = Int(parts[3]) else { throw ValidationError("--tenant '\(spec)': RING_DEPTH is not a number") }
            tenant.ringDepth = depth
        }
        return tenant
    }
}

Mused.main()
