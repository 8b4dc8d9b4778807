/// Constants of the container inside the LZ4 frame (docs/snapshot-format.md).
public enum SnapshotFormat {
    /// "MUSESNAP": the container's first eight bytes.
    public static let magic: [UInt8] = Array("MUSESNAP".utf8)
    static let magicText = "MUSESNAP"
    /// The newest format this code reads and the one it writes.
    public static let version: UInt32 = 1
    /// Bytes of the fixed header.
    static let headerSize = 64
    /// Bytes of one section-table entry.
    static let entrySize = 32
    /// Sections start at multiples of this, so flat arrays in them are aligned.
    static let sectionAlignment = 16
    /// A container with more sections than this is refused outright.
    static let maximumSections = 64
}

/// What a section holds. Numbers are part of the format: never reuse one.
public enum SectionKind: UInt32, Sendable, CaseIterable, Codable {
    case metadata = 1
    case models = 2
    case modelSources = 3
    case scoreMaps = 4
    case corrections = 5
    case predictors = 6
    case intents = 7
    case routes = 8
    case canaries = 9

    public var name: String {
        switch self {
        case .metadata: return "metadata"
        case .models: return "models"
        case .modelSources: return "model-sources"
        case .scoreMaps: return "score-maps"
        case .corrections: return "corrections"
        case .predictors: return "predictors"
        case .intents: return "intents"
        case .routes: return "routes"
        case .canaries: return "canaries"
        }
    }
}

/// One entry of the section table, as recorded in the file.
public struct SectionInfo: Sendable, Equatable, Codable {
    /// The raw kind, kept even when unknown to this version.
    public let kind: UInt32
    public let offset: UInt64
    public let length: UInt64
    public let checksum: UInt64

    public var name: String { SectionKind(rawValue: kind)?.name ?? "unknown-\(kind)" }
}
