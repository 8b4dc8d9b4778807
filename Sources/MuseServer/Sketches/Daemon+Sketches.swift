#if canImport(Glibc)
import Glibc
#endif
import MuseScoring
import MuseSnapshot

extension Daemon {
    /// This host's live score sketches, each (tenant, predictor, level 1)
    /// merged over the workers (counts add, exactly), as `musectl sketch
    /// export` writes them. Reads the workers' cells without stopping them:
    /// each bin is as of some moment of the read (see `SketchCell`).
    public func sketchFile() -> SketchFile {
        let now = WallClock.nanoseconds()
        var merged: [SketchKey: SketchEntry] = [:]
        for worker in workers {
            for cell in worker.sketches.all {
                let sketch = cell.read()
                if var entry = merged[cell.key] {
                    entry.sketch.merge(sketch)
                    entry.windowStart = min(entry.windowStart, cell.windowStart)
                    merged[cell.key] = entry
                } else {
                    merged[cell.key] = SketchEntry(tenant: cell.key.tenant, predictor: cell.key.predictor,
                                                   fingerprint: cell.key.fingerprint, windowStart: cell.windowStart,
                                                   windowEnd: now, sketch: sketch)
                }
            }
        }
        return SketchFile(host: Self.hostName, entries: merged.values.sorted { $0.key < $1.key })
    }

    /// The merged live sketch of `tenant`'s scores by the predictor named
    /// `predictor` in the serving generation (its level 1 as served now);
    /// nil if the serving generation has no such predictor or nothing was
    /// counted for it. What `promote` fits a candidate's map from.
    public func mergedSketch(tenant: String, predictor: String) -> ScoreSketch? {
        guard let routing = currentGeneration?.routing,
              let p = routing.predictors.firstIndex(where: { $0.name == predictor }) else { return nil }
        let key = SketchKey(tenant: tenant, predictor: predictor, fingerprint: routing.levelOneFingerprint(predictor: p))
        var total: ScoreSketch?
        for worker in workers {
            for cell in worker.sketches.all where cell.key == key {
                if total == nil { total = ScoreSketch() }
                total?.merge(cell.read())
            }
        }
        return total
    }

    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
