import Foundation
import MuseControl
import MuseIPC
import MuseSnapshot
import Synchronization

/// Turns snapshot files into generations for the daemon: copies the file
/// into the state directory (when there is one), loads the copy with
/// io_uring (or plain reads where io_uring is not allowed, said once in the
/// log), checks its schema against the serving generation, and says how long
/// each step took. Runs on the control thread, never on a worker.
public final class SnapshotSource: Sendable {
    public let loader: SnapshotLoader
    public let state: StateDirectory?
    private let fallbackLogged = Atomic<Bool>(false)

    public init(loader: SnapshotLoader = SnapshotLoader(), state: StateDirectory?) {
        self.loader = loader
        self.state = state
    }

    /// A generation loaded and verified, not yet published; `commit` records
    /// it in the state directory once it is.
    public struct Prepared: Sendable {
        public let generation: Generation
        public let steps: [ControlResponse.Step]
        public let commit: @Sendable () throws -> Void
    }

    public func prepare(_ path: String, allowSchemaChange: Bool, serving: Generation?) throws -> Prepared {
        var steps: [ControlResponse.Step] = []
        let clock = ContinuousClock()
        var source = path
        if let state {
            let started = clock.now
            source = try state.stage(copying: path)
            steps.append(.init(name: "copy", milliseconds: Self.milliseconds(clock.now - started)))
        }
        let snapshot: LoadedSnapshot
        do { snapshot = try loader.load(source) } catch {
            throw SnapshotSourceError(path: path, reason: "\(error)")
        }
        if let reason = snapshot.fallbackReason, !fallbackLogged.exchange(true, ordering: .relaxed) {
            Log.warning("io-uring-unavailable", ["reason": reason, "using": "read"])
        }
        let t = snapshot.timings
        steps += [("read", t.read), ("decode", t.decode), ("verify", t.verify), ("import", t.import)]
            .map { ControlResponse.Step(name: $0.0, milliseconds: Self.milliseconds($0.1)) }
        if let serving {
            do { try snapshot.verify(against: serving.intentSchemas, allowSchemaChange: allowSchemaChange) } catch {
                throw SnapshotSourceError(path: path, reason: "\(error) (swap with --allow-schema-change once clients are updated)")
            }
        }
        let generation = try Generation(snapshot: snapshot, origin: path)
        Log.info("snapshot-loaded", ["path": path, "generation": generation.id, "reader": snapshot.reader.rawValue,
                                     "bytes": snapshot.fileSize, "ms": String(format: "%.3f", Self.milliseconds(t.total))])
        let state = self.state
        return Prepared(generation: generation, steps: steps, commit: { try state?.commitStaged() })
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
    }
}

public struct SnapshotSourceError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "refusing snapshot \(path): \(reason)" }
}
