import MuseScoring

/// One (tenant, predictor) score sketch as a host exports it
/// (docs/sketch-format.md). Sketches merge only when all three keys match:
/// the fingerprint identifies the predictor's level 1 (its models and their
/// corrections), so two models served under one name never mix.
public struct SketchEntry: Sendable, Equatable {
    public var tenant: String
    public var predictor: String
    public var fingerprint: UInt64
    /// The window the sketch covers, Unix nanoseconds.
    public var windowStart: UInt64
    public var windowEnd: UInt64
    public var sketch: ScoreSketch

    public init(tenant: String, predictor: String, fingerprint: UInt64, windowStart: UInt64, windowEnd: UInt64,
                sketch: ScoreSketch) {
        self.tenant = tenant
        self.predictor = predictor
        self.fingerprint = fingerprint
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.sketch = sketch
    }

    public struct Key: Hashable, Sendable, Comparable {
        public var tenant: String
        public var predictor: String
        public var fingerprint: UInt64
        public static func < (a: Key, b: Key) -> Bool {
            (a.tenant, a.predictor, a.fingerprint) < (b.tenant, b.predictor, b.fingerprint)
        }
    }

    public var key: Key { Key(tenant: tenant, predictor: predictor, fingerprint: fingerprint) }
}

/// A sketch export: the sketches of one host (or several, merged).
public struct SketchFile: Sendable, Equatable {
    /// Who wrote it (a host name, or the names of the merged hosts).
    public var host: String
    public var entries: [SketchEntry]

    public init(host: String, entries: [SketchEntry]) {
        self.host = host
        self.entries = entries
    }

    /// Merges entries with equal keys: counts add (exactly, see
    /// `ScoreSketch.merge`), the window spans both. Sorted by key.
    public static func merge(_ files: [SketchFile]) -> SketchFile {
        var merged: [SketchEntry.Key: SketchEntry] = [:]
        for file in files {
            for entry in file.entries {
                if var existing = merged[entry.key] {
                    existing.sketch.merge(entry.sketch)
                    existing.windowStart = min(existing.windowStart, entry.windowStart)
                    existing.windowEnd = max(existing.windowEnd, entry.windowEnd)
                    merged[entry.key] = existing
                } else {
                    merged[entry.key] = entry
                }
            }
        }
        return SketchFile(host: files.map(\.host).joined(separator: ","),
                          entries: merged.values.sorted { $0.key < $1.key })
    }
}
