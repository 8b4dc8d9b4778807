/// Why a snapshot was refused. Every case names the part of the file and
/// the reason, because the operator reading `musectl swap` or the daemon's
/// log has nothing else to go on.
public enum SnapshotError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read.
    case io(String)
    /// The LZ4 frame around the container is broken.
    case lz4(String)
    /// The container does not start with the snapshot magic.
    case badMagic(found: [UInt8])
    /// Written by a newer Muse than this one.
    case unsupportedVersion(found: UInt32, supported: UInt32)
    /// The container header is inconsistent.
    case malformedHeader(String)
    /// A section's bytes do not parse.
    case malformedSection(String, String)
    /// A section's bytes are not those its checksum was computed over.
    case checksumMismatch(section: String, recorded: UInt64, computed: UInt64)
    case missingSection(String)
    /// A model's flat arrays, level-1 settings or source are unusable.
    case invalidModel(String, String)
    /// A score map is unusable (e.g. not monotone).
    case invalidScoreMaps(String)
    /// A map records another level 1 than its predictor's models apply:
    /// `recorded` as the map file writes it, `serving` each member's.
    case mapCorrectionMismatch(predictor: String, tenant: String?, recorded: String, serving: String)
    /// Predictors, routes or intents do not fit together.
    case invalidRouting(String)
    case invalidIntent(String, String)
    /// A canary's score today differs from the one recorded at build.
    case canaryMismatch(String)
    /// An intent's schema differs from the serving generation's.
    case schemaChanged(String, String)

    public var description: String {
        switch self {
        case .io(let why): return "cannot read the snapshot: \(why)"
        case .lz4(let why): return "LZ4 frame: \(why)"
        case .badMagic(let found):
            let hex = found.map { String($0, radix: 16).leftPadded(2) }.joined(separator: " ")
            return "not a Muse snapshot: the container starts with \(hex), not the magic \"\(SnapshotFormat.magicText)\""
        case .unsupportedVersion(let found, let supported):
            return "snapshot format version \(found) is newer than this Muse supports (up to \(supported)); upgrade Muse to load it"
        case .malformedHeader(let why): return "container header: \(why)"
        case .malformedSection(let section, let why): return "section '\(section)': \(why)"
        case .checksumMismatch(let section, let recorded, let computed):
            return "section '\(section)': checksum mismatch (recorded xxh64 \(hex(recorded)), computed \(hex(computed))): the file is corrupt"
        case .missingSection(let section): return "section '\(section)' is missing"
        case .invalidModel(let model, let why): return "model '\(model)': \(why)"
        case .invalidScoreMaps(let why): return "score maps: \(why)"
        case .mapCorrectionMismatch(let p, let t, let recorded, let serving):
            return "score maps: the map of predictor '\(p)' for tenant '\(t ?? "*")' was fitted after level-1 correction \(recorded) "
                + "(posterior odds ratio), but the predictor corrects with \(serving); refit the map on the predictor's scores, "
                + "or give its models the level-1 setting the map was fitted with"
        case .invalidRouting(let why): return "routing: \(why)"
        case .invalidIntent(let intent, let why): return "intent '\(intent)': \(why)"
        case .canaryMismatch(let why): return "canary mismatch: \(why)"
        case .schemaChanged(let intent, let why):
            return "intent '\(intent)': \(why); refused without --allow-schema-change (clients built for the old schema would send the wrong features)"
        }
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16).leftPadded(16) }

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
