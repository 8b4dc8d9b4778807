import MuseCore
import MuseScoring

/// A verified generation, ready to serve: its routing table (models,
/// level-1 corrections, maps, predictors, routes with shadows), the intent
/// schema clients see, the canaries it was checked with, and how the load
/// went. Immutable and `Sendable`: share one instance between threads.
public struct LoadedSnapshot: Sendable {
    struct Parts: Sendable {
        var formatVersion: UInt32
        var contentHash: UInt64
        var sections: [SectionInfo]
        var contents: SnapshotContents
        var routingTable: RoutingTable
    }

    let parts: Parts

    /// The generation's id, typed here at the edge: the file and
    /// `SnapshotContents` keep the raw u64 they encode.
    public var generationID: GenerationID { GenerationID(parts.contents.generationID) }
    /// Unix time in seconds when the snapshot was built.
    public var createdAt: UInt64 { parts.contents.createdAt }
    public var formatVersion: UInt32 { parts.formatVersion }
    /// XXH64 of the section table, which carries every section's XXH64:
    /// two snapshots with the same content hash hold the same bytes.
    public var contentHash: UInt64 { parts.contentHash }
    public var sections: [SectionInfo] { parts.sections }
    /// Every part, typed (model source text only if the loader kept it).
    public var contents: SnapshotContents { parts.contents }
    /// What the per-event path uses: (tenant, intent) → predictor → maps.
    public var routingTable: RoutingTable { parts.routingTable }
    public var intents: [IntentSchema] { parts.contents.intents }
    public var routes: [RouteSpec] { parts.contents.routes }
    public var canaries: [CanaryEvent] { parts.contents.canaries }
    public var metadata: [MetadataEntry] { parts.contents.metadata }

    public let fileSize: Int
    public let containerSize: Int
    /// The file as read, when the loader was asked to keep it.
    public let fileBytes: LargeBuffer?
    public let reader: FileReader
    /// Why io_uring was not used, when `.auto` fell back; log it once.
    public let fallbackReason: String?
    public let timings: LoadTimings

    init(parts: Parts, fileSize: Int, containerSize: Int, fileBytes: LargeBuffer?, reader: FileReader,
         fallbackReason: String?, timings: LoadTimings) {
        self.parts = parts
        self.fileSize = fileSize
        self.containerSize = containerSize
        self.fileBytes = fileBytes
        self.reader = reader
        self.fallbackReason = fallbackReason
        self.timings = timings
    }

    public func intent(named name: String) -> IntentSchema? { intents.first { $0.name == name } }
    public func intent(id: IntentID) -> IntentSchema? { intents.first { $0.id == id } }

    /// The routing table's intent id for a muse.h intent id, or nil when
    /// the id names no intent or the intent has no route. Resolve once per
    /// generation (e.g. into a table indexed by id), not per event.
    public func routingIntent(forID id: IntentID) -> RoutedIntent? {
        guard let i = intent(id: id) else { return nil }
        return routingTable.intentID(i.name)
    }

    /// The schema check of a swap: every intent this generation shares (by
    /// name or by id) with the serving one must keep its id and its exact
    /// feature names, or a client built for the old schema would send
    /// features the new models misread. Intents may be added or dropped
    /// (a dropped one answers `MUSE_E_UNKNOWN_INTENT`). `allowSchemaChange`
    /// is the operator saying the clients have been updated.
    public func verify(against previousIntents: [IntentSchema], allowSchemaChange: Bool) throws(SnapshotError) {
        if allowSchemaChange { return }
        for old in previousIntents {
            if let new = intent(named: old.name) {
                guard new.id == old.id else {
                    throw .schemaChanged(old.name, "its id changed from \(old.id) to \(new.id)")
                }
                guard new.featureNames == old.featureNames else {
                    throw .schemaChanged(old.name, "its features changed from \(old.featureNames) to \(new.featureNames) (schema hash \(hex(old.schemaHash)) → \(hex(new.schemaHash)))")
                }
            } else if let new = intent(id: old.id) {
                throw .schemaChanged(old.name, "its id \(old.id) now names intent '\(new.name)'")
            }
        }
    }
}
