import MuseCore
import MuseScoring
import Synchronization

/// A worker's sketch cells, by key. The worker alone adds and drops cells,
/// under the lock, when it picks a generation up (cold), and rotates the
/// window's time slices on its housekeeping clock (cold: every window/slices);
/// readers take the lock only to list the cells, then read their counters
/// without it.
public final class WorkerSketches: Sendable {
    private struct State {
        var cells: [SketchKey: SketchCell] = [:]
        /// The slice the worker counts into now.
        var slice = 0
        /// When each slice began (Unix ns; 0: not yet used).
        var sliceStarts: [UInt64]
        /// Monotonic time of the next rotation (0: not started).
        var nextRotation: UInt64 = 0
    }
    private let state: Locked<State>
    let window: SketchWindow
    let slices: Int

    public init(window: SketchWindow = .sincePublication) {
        self.window = window
        slices = window == .sincePublication ? 1 : SketchWindow.slices
        state = Locked(State(sliceStarts: Array(repeating: 0, count: slices)))
    }

    /// Nanoseconds a slice covers (0: one slice, never rotated).
    var sliceNanoseconds: UInt64 {
        if case .last(let seconds) = window { return UInt64(seconds) * 1_000_000_000 / UInt64(slices) }
        return 0
    }

    /// Worker thread, cold: the table the worker records `serving`'s scores
    /// through. Cells of keys `serving` still scores are kept (their counts
    /// go on); cells of keys it no longer scores are dropped, so memory
    /// follows what is served.
    /// `thresholds` are the alert thresholds by daemon tenant index (the
    /// tenant policies); a cell keeps the counters of thresholds still set.
    public func table(for serving: Serving, thresholds: [[Double]] = [],
                      now: UInt64? = nil) -> SketchTable {
        let now = now ?? ThreadSupport.unixNanoseconds()
        let routing = serving.generation.routing
        let fingerprints = routing.predictorIndices.map { routing.levelOneFingerprint(predictor: $0) }
        var wanted: [(tenant: Int, predictor: PredictorIndex, key: SketchKey)] = []
        for (t, name) in serving.tenants.enumerated() where !name.isEmpty {
            guard let routed = routing.tenantID(name) else { continue }
            var predictors = Set<PredictorIndex>()
            for intent in routing.intentIDs {
                if let p = routing.primaryPredictor(tenant: routed, intent: intent) { predictors.insert(p) }
                predictors.formUnion(routing.shadowPredictors(tenant: routed, intent: intent))
            }
            for p in predictors.sorted() {
                wanted.append((t, p, SketchKey(tenant: name, predictor: routing.predictor(p).name,
                                               fingerprint: fingerprints[p.rawValue],
                                               oddsRatio: routing.levelOneOddsRatio(predictor: p))))
            }
        }
        let slices = self.slices
        let (entries, slice) = state.withLock { state in
            var next: [SketchKey: SketchCell] = [:]
            var entries: [SketchTable.Entry] = []
            for w in wanted {
                let cell = state.cells[w.key] ?? SketchCell(key: w.key, windowStart: now, slices: slices)
                let levels = w.tenant < thresholds.count ? thresholds[w.tenant] : []
                cell.alerts = levels.map { t in (t, cell.alerts.first { $0.threshold == t }?.counter ?? AlertCounter()) }
                next[w.key] = cell
                entries.append(SketchTable.Entry(tenant: w.tenant, predictor: w.predictor, cell: cell, alerts: cell.alerts))
            }
            state.cells = next
            return (entries, state.slice)
        }
        return SketchTable(tenantCount: serving.tenants.count, predictorCount: routing.predictors.count, entries: entries,
                           slice: slice)
    }

    /// Worker thread, housekeeping: when the current slice has run its
    /// length, moves `table` (and later tables) to the next slice, emptied.
    /// `now` is the worker's monotonic clock.
    func rotateIfDue(_ table: SketchTable, now: UInt64, wallNow: UInt64? = nil) {
        let length = sliceNanoseconds
        guard length > 0 else { return }
        let slice: Int? = state.withLock { state in
            if state.nextRotation == 0 {
                state.nextRotation = now &+ length
                state.sliceStarts[state.slice] = wallNow ?? ThreadSupport.unixNanoseconds()
                return nil
            }
            guard now >= state.nextRotation else { return nil }
            state.slice = (state.slice + 1) % slices
            for cell in state.cells.values { cell.clear(slice: state.slice) }
            state.sliceStarts[state.slice] = wallNow ?? ThreadSupport.unixNanoseconds()
            state.nextRotation = now &+ length
            return state.slice
        }
        if let slice { table.use(slice: slice) }
    }

    /// Any thread: every cell with the start of what it holds (Unix ns): its
    /// first count, or for a window the start of the oldest slice still held.
    var all: [(cell: SketchCell, windowStart: UInt64)] {
        state.withLock { state in
            let oldest = state.sliceStarts[(state.slice + 1) % slices]
            return state.cells.values.map { ($0, max($0.windowStart, oldest)) }
        }
    }

    /// Any thread: every alert counter's value now.
    func alertTotals() -> [AlertTotal] {
        state.withLock { state in
            state.cells.values.flatMap { cell in
                cell.alerts.map {
                    AlertTotal(tenant: cell.key.tenant, predictor: cell.key.predictor, threshold: $0.threshold,
                               count: $0.counter.value)
                }
            }
        }
    }
}
