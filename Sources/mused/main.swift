#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import MuseCore
import MuseServer
import MuseSnapshot

/// mused: the Muse scorer daemon. A thin main; the daemon lives in MuseServer.
struct Mused: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mused", abstract: "Score events for the host's tenants over shared memory.",
        version: MuseVersion.line(tool: "mused", snapshotFormat: SnapshotFormat.version))

    @Option(name: .customLong("config"), help: ArgumentHelp(
        "A TOML configuration file (see systemd/mused.toml).",
        discussion: "Command-line flags take precedence over the file: --runtime-dir, --workers, --spin-us, "
            + "--idle-policy, --admin-group, --state-dir, --snapshot, --snapshot-io and --metrics-address replace its values, each --tenant is added to its tenants (or replaces the file's "
            + "tenant of that name). With neither --config nor --tenant, mused serves the tenants 'demo-a' and 'demo-b' and, "
            + "without a snapshot, the demo generation it carries (a LightGBM model and score maps).",
        valueName: "file"))
    var configFile: String?

    @Option(name: .customLong("runtime-dir"), help: ArgumentHelp(
        "Directory for the tenant segments (default: $MUSE_RUNTIME_DIR, else the file's runtime_directory, else /run/muse).",
        discussion: "A relative path counts from the working directory.", valueName: "dir"))
    var runtimeDirectory: String?

    @Option(name: .customLong("tenant"), help: ArgumentHelp(
        "A tenant: NAME[:GROUP[:CHANNELS[:RING_DEPTH]]]. Repeatable.", valueName: "spec"))
    var tenants: [String] = []

    @Option(help: "Worker threads (1-32, default 1).")
    var workers: Int?

    @Option(name: .customLong("spin-us"), help: "The most microseconds an adaptive idle worker spins before it yields and sleeps (0-1000000, default 1000).")
    var spinMicroseconds: UInt64?

    @Option(name: .customLong("idle-policy"), help: ArgumentHelp(
        "How an idle worker waits: busy-spin, adaptive or low-power (default: adaptive).",
        discussion: "busy-spin never sleeps (lowest latency, a core per worker); adaptive spins for a budget learned "
            + "from recent gaps between events (at most --spin-us), yields, then sleeps; low-power sleeps at once.",
        valueName: "policy"))
    var idlePolicy: String?

    @Flag(name: .customLong("allow-foreign-runtime-dir"), help: ArgumentHelp(
        "Accept a runtime directory owned by another user or writable by others.",
        discussion: "Whoever can write the runtime directory can replace segments and read tenants' events."))
    var allowForeignRuntimeDirectory = false

    @Option(name: .customLong("admin-group"), help: "Group whose members may use the control socket (besides root).")
    var adminGroup: String?

    @Option(name: .long, help: "Snapshot file to serve at start when the state directory records none.")
    var snapshot: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Where mused keeps the snapshot it serves, for restarts.",
        discussion: "Default: /var/lib/muse for root and for a user who may write it (mused.service's muse); for "
            + "anyone else RUNTIME_DIR.state beside the runtime directory. A relative path counts from the working directory.",
        valueName: "dir"))
    var stateDirectory: String?

    @Option(name: .customLong("snapshot-io"), help: "How snapshots are read: auto (io_uring, else read), io_uring, read (default: auto).")
    var snapshotIO: String?

    @Option(name: .customLong("max-snapshot-bytes"), help: ArgumentHelp(
        "Refuse a snapshot file, or decoded content, larger than this (default 536870912, 512 MiB).", valueName: "bytes"))
    var maximumSnapshotBytes: Int?

    @Option(name: .customLong("metrics-address"), help: ArgumentHelp(
        "Serve Prometheus metrics at http://ADDRESS/metrics, and the probes /healthz and /readyz: an IP address and port such as 127.0.0.1:9464.",
        discussion: "Anyone who reaches the address reads tenant names and event volumes (never scores); keep it on "
            + "loopback unless a scraper or a probe elsewhere needs it (0.0.0.0:9464, [::]:9464).",
        valueName: "address"))
    var metricsAddress: String?

    func validate() throws {
        if let metricsAddress, MetricsAddress(metricsAddress) == nil {
            throw ValidationError("--metrics-address must be \(MetricsAddress.expected), got '\(metricsAddress)'")
        }
        if let snapshotIO, SnapshotIO(configurationName: snapshotIO) == nil {
            throw ValidationError("--snapshot-io must be auto, io_uring or read, got '\(snapshotIO)'")
        }
        if let idlePolicy, IdlePolicy(rawValue: idlePolicy) == nil {
            throw ValidationError("--idle-policy must be "
                + IdlePolicy.allCases.map(\.rawValue).joined(separator: ", ") + ", got '\(idlePolicy)'")
        }
        if let spinMicroseconds, spinMicroseconds > 1_000_000 {
            throw ValidationError("--spin-us must be 0...1000000 (one second), got \(spinMicroseconds)")
        }
        if let maximumSnapshotBytes, !ConfigFile.snapshotSizeRange.contains(maximumSnapshotBytes) {
            throw ValidationError("--max-snapshot-bytes must be \(ConfigFile.snapshotSizeRange.lowerBound)...\(ConfigFile.snapshotSizeRange.upperBound), got \(maximumSnapshotBytes)")
        }
        if let snapshot, let problem = ConfigFile.snapshotFileProblem(snapshot) {
            throw ValidationError("--snapshot \(snapshot): \(problem)")
        }
    }

    func run() throws {
        // Everything is read and checked before anything is touched.
        let file = try configFile.map { path throws(ConfigFileError) in try ConfigFile.load(path: path) }
        var settings = CommandLineSettings()
        // The flag, then the environment (as muse.h's clients and musectl take it), then the file.
        let fromEnvironment = ProcessInfo.processInfo.environment["MUSE_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        settings.runtimeDirectory = (runtimeDirectory ?? fromEnvironment).map(Self.absolute)
        settings.workers = workers
        settings.spinMicroseconds = spinMicroseconds
        settings.idlePolicy = idlePolicy.flatMap(IdlePolicy.init(rawValue:))
        settings.adminGroup = adminGroup
        settings.allowForeignRuntimeDirectory = allowForeignRuntimeDirectory
        settings.stateDirectory = stateDirectory.map(Self.absolute)
        settings.snapshot = snapshot.map(Self.absolute)
        settings.snapshotIO = snapshotIO.flatMap(SnapshotIO.init(configurationName:))
        settings.maximumSnapshotBytes = maximumSnapshotBytes
        settings.metricsAddress = metricsAddress.flatMap(MetricsAddress.init)
        settings.tenants = try tenants.map(Self.parseTenant)
        let config = settings.applied(to: file)
        if let configFile, config.tenants.isEmpty {
            throw ConfigFileError(file: configFile, line: nil, key: nil,
                                  message: "no tenant is configured: add a [[tenant]] section (or a --tenant)")
        }
        // Before the state directory is made (the daemon checks again at its start).
        try config.validate()

        // A closed log pipe (journald restarting) must not kill the daemon.
        signal(SIGPIPE, SIG_IGN)
        // Block the stop and reload signals before any thread starts so only sigwait sees them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let notifier = SystemdNotifier.fromEnvironment()
        notifier?.status("starting")
        let daemon: Daemon
        do {
            // The first thing mused makes; its failure names the flag that chooses another.
            let statePath = config.stateDirectoryInUse
            let state: StateDirectory
            do { state = try StateDirectory(path: statePath) } catch {
                throw StateDirectoryUnusable(description: "state directory \(statePath)"
                    + (config.stateDirectory == nil ? " (the default for this user)" : "")
                    + ": \(error); choose one mused's user may write with --state-dir DIR (or state_directory in the configuration file)")
            }
            let snapshots = SnapshotSource(loader: SnapshotLoader(io: config.snapshotIO, maximumFileSize: config.maximumSnapshotBytes,
                                                                  maximumContentSize: config.maximumSnapshotBytes),
                                           state: state)
            // A reload reads the file again and applies the same flags on top.
            var reloader: (@Sendable () throws -> DaemonConfiguration)?
            if let configFile {
                let flags = settings
                reloader = { () throws -> DaemonConfiguration in
                    let file = try ConfigFile.load(path: configFile)
                    return flags.applied(to: file)
                }
            }
            daemon = Daemon(configuration: config, snapshots: snapshots, initial: .recordedOr(snapshot: config.snapshot),
                            reloader: reloader)
            try daemon.start()
        } catch {
            notifier?.status("failed to start: \(error)")
            throw error
        }
        // Segments exist and a generation serves: systemd may start the clients.
        notifier?.ready(status: "serving \(daemon.segments.count) tenants with \(config.workers) workers, generation "
            + "\(daemon.generations.current.map { "\($0.id)" } ?? "none")")
        let watchdog = notifier.flatMap { notifier in
            Watchdog.intervalFromEnvironment().map { interval in
                Watchdog(notifier: notifier, intervalNanoseconds: interval) { daemon.workerHeartbeats }
            }
        }
        watchdog?.start()
        var received: Int32 = 0
        while true {
            sigwait(&signals, &received)
            if received != SIGHUP { break }
            // systemctl reload (ExecReload sends SIGHUP): apply the file again.
            notifier?.reloading()
            do {
                let report = try daemon.reload()
                if !report.failed.isEmpty {
                    Log.warning("reload-partial", ["failed": report.failed.joined(separator: "; ")])
                }
            } catch {
                Log.error("reload-refused", ["signal": received, "reason": error])
            }
            notifier?.ready(status: "serving \(daemon.segments.count) tenants")
        }
        notifier?.stopping(status: "stopping")
        Log.info("stopping", ["signal": received])
        watchdog?.stop()
        daemon.stop()
    }

    /// `path` made absolute against the working directory, `.` and `..`
    /// resolved. An empty path stays empty, refused as no path at all.
    static func absolute(_ path: String) -> String {
        path.isEmpty ? path : URL(filePath: path, directoryHint: .inferFromPath).standardizedFileURL.path
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

/// The state directory cannot be made or used: said with the flag to fix it.
struct StateDirectoryUnusable: Error, CustomStringConvertible {
    let description: String
}

Mused.main()
