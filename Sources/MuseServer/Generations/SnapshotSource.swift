import Foundation
import MuseControl
import MuseCore
import MuseSnapshot
import Synchronization

/// Turns snapshot files into generations for the daemon: reads the file
/// once, with io_uring (or plain reads where io_uring is not allowed, said
/// once in the log), verifies it, checks its schema against the serving
/// generation, and says how long each step took. The verified bytes are
/// written to the state directory only once the swap is accepted, so a
/// refused file leaves nothing behind. Runs on a control connection's
/// thread (or the starting daemon's), never on a worker.
public final class SnapshotSource: Sendable {
    public let loader: SnapshotLoader
    public let state: StateDirectory?
    private let fallbackLogged = Atomic<Bool>(false)

    public init(loader: SnapshotLoader = SnapshotLoader(), state: StateDirectory?) {
        var loader = loader
        loader.keepFileBytes = state != nil
        self.loader = loader
        self.state = state
    }

    /// A generation loaded and verified, not yet published. `record` writes
    /// the verified bytes to the state directory (before the publish);
    /// `commit` makes them the serving snapshot (after it); `discard`
    /// removes what `record` wrote when the swap stops between the two.
    public struct Prepared: Sendable {
        public let generation: Generation
        public let steps: [ControlResponse.Step]
        public let record: @Sendable () throws -> ControlResponse.Step?
        public let commit: @Sendable () throws -> Void
        public let discard: @Sendable () -> Void
    }

    /// Loads and verifies `path` as the successor of `serving` (and of
    /// `previous`, the generation a rollback would bring back): an intent
    /// schema that changed needs `allowSchemaChange`, and a generation id
    /// already resident with other content is refused, since completions
    /// name their generation by id.
    public func prepare(_ path: String, allowSchemaChange: Bool, serving: Generation?,
                        previous: Generation? = nil) throws -> Prepared {
        let snapshot: LoadedSnapshot
        do { snapshot = try loader.load(path) } catch {
            throw SnapshotSourceError(path: path, reason: "\(error)")
        }
        return try prepare(snapshot, origin: path, allowSchemaChange: allowSchemaChange, serving: serving, previous: previous)
    }

    /// Loads and verifies a snapshot mused made itself (`bytes`, a whole
    /// snapshot file) exactly as a file an operator names: every check, the
    /// schema comparison, and the same record once accepted.
    public func prepare(bytes: [UInt8], origin: String, serving: Generation?, previous: Generation?) throws -> Prepared {
        let snapshot: LoadedSnapshot
        do { snapshot = try loader.load(bytes: bytes) } catch {
            throw SnapshotSourceError(path: origin, reason: "\(error)")
        }
        return try prepare(snapshot, origin: origin, allowSchemaChange: false, serving: serving, previous: previous)
    }

    private func prepare(_ snapshot: LoadedSnapshot, origin path: String, allowSchemaChange: Bool, serving: Generation?,
                         previous: Generation?) throws -> Prepared {
        if let reason = snapshot.fallbackReason, !fallbackLogged.exchange(true, ordering: .relaxed) {
            Log.warning("io-uring-unavailable", ["reason": reason, "using": "read"])
        }
        let t = snapshot.timings
        let steps = [("read", t.read), ("decode", t.decode), ("verify", t.verify), ("import", t.import)]
            .map { ControlResponse.Step(name: $0.0, milliseconds: Self.milliseconds($0.1)) }
        if let serving {
            do { try snapshot.verify(against: serving.intents, allowSchemaChange: allowSchemaChange) } catch {
                throw SnapshotSourceError(path: path, reason: "\(error) (swap with --allow-schema-change once clients are updated)")
            }
        }
        for (role, resident) in [("serving", serving), ("previous", previous)] {
            guard let resident, resident.id == snapshot.generationID,
                  resident.contentHash != snapshot.contentHash else { continue }
            throw SnapshotSourceError(path: path, reason: "generation \(snapshot.generationID) is already the \(role) generation "
                + "with other content (\(resident.contentHash.map(hex) ?? "built in"), this file \(hex(snapshot.contentHash))): "
                + "completions name generations by id, so a new generation needs an id of its own")
        }
        let generation = try Generation(snapshot: snapshot, origin: path)
        Log.info("snapshot-loaded", ["path": path, "generation": generation.id, "reader": snapshot.reader.rawValue,
                                     "bytes": snapshot.fileSize, "ms": String(format: "%.3f", Self.milliseconds(t.total))])
        let state = self.state
        let bytes = snapshot.fileBytes
        return Prepared(
            generation: generation, steps: steps,
            record: {
                guard let state, let bytes else { return nil }
                let clock = ContinuousClock()
                let started = clock.now
                try state.stage(bytes.bytes)
                return ControlResponse.Step(name: "copy", milliseconds: Self.milliseconds(clock.now - started))
            },
            commit: { try state?.commitStaged() },
            discard: { state?.discardStaged() })
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

/// A content hash as musectl shows it.
private func hex(_ hash: UInt64) -> String { "0x" + String(hash, radix: 16) }
