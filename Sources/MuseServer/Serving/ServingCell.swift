import MuseCore
import Synchronization

/// Where the daemon publishes the `Serving` object and workers pick it up.
///
/// Workers read `version` (one acquire load) between batches; only when it
/// moved do they take the lock to copy the new reference, so the hot path
/// holds no lock and makes no call. The publisher stores the reference under
/// the lock, then bumps `version` with release order, so a worker that sees
/// the new version finds the new reference.
///
/// Reclamation is by reference counting: a worker keeps a strong reference
/// to the `Serving` it scores with, so a generation lives until no batch can
/// use it. Each worker also publishes the version it has moved to
/// (`acknowledge`), so the publisher can tell when nobody holds the old one
/// and drop it on its own thread, never on a worker's.
final class ServingCell: Sendable {
    private let current = Locked<Serving?>(nil)
    private let version = Atomic<UInt64>(0)
    /// Per worker: the version it has picked up (written by that worker, release).
    private let acknowledged: [Acknowledgement]

    private final class Acknowledgement: Sendable {
        let version = Atomic<UInt64>(0)
    }

    init(workers: Int) {
        acknowledged = (0..<workers).map { _ in Acknowledgement() }
    }

    /// Publishes `serving` for every worker's next batch; returns its version.
    @discardableResult
    func publish(_ serving: Serving) -> UInt64 {
        current.withLock { $0 = serving }
        return version.wrappingAdd(1, ordering: .releasing).newValue
    }

    @inline(__always)
    var latestVersion: UInt64 { version.load(ordering: .acquiring) }

    /// The published object and its version (cold path: only when it moved).
    func load() -> (serving: Serving?, version: UInt64) {
        // Version first: if a publish races, the worker sees the new object
        // with the old version and simply loads again next round.
        let v = version.load(ordering: .acquiring)
        return (current.withLock { $0 }, v)
    }

    /// Worker `index` now scores with `version` and holds nothing older.
    func acknowledge(worker index: Int, version v: UInt64) {
        acknowledged[index].version.store(v, ordering: .releasing)
    }

    /// True once every worker has moved to `version` or later.
    func allWorkersReached(_ v: UInt64) -> Bool {
        acknowledged.allSatisfy { $0.version.load(ordering: .acquiring) >= v }
    }
}
