#if canImport(Glibc)
import Glibc
#endif
import MuseScoring
import MuseSnapshot

extension Daemon {
    /// This host's live score sketches, each (tenant, predictor, level 1)
    /// merged over the workers (counts add, exactly), over the configured
    /// `sketch_window`, as `musectl sketch export` writes them. Reads the workers' cells without stopping them:
    /// each bin is as of some moment of the read (see `SketchCell`).
    public func sketchFile() -> SketchFile {
        let now = ThreadSupport.unixNanoseconds()
        var merged: [SketchKey: SketchEntry] = [:]
        for worker in workers {
            for (cell, start) in worker.sketches.all {
                let sketch = cell.read()
                if var entry = merged[cell.key] {
                    entry.sketch.merge(sketch)
                    entry.windowStart = min(entry.windowStart, start)
                    merged[cell.key] = entry
                } else {
                    merged[cell.key] = SketchEntry(tenant: cell.key.tenant, predictor: cell.key.predictor,
                                                   fingerprint: cell.key.fingerprint, oddsRatio: cell.key.oddsRatio,
                                                   windowStart: start,
                                                   windowEnd: now, sketch: sketch)
                }
            }
        }
        return SketchFile(host: Self.hostName, entries: merged.values.sorted { $0.key < $1.key })
    }

    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
