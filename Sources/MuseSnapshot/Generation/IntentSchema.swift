import MuseCore

/// One intent a generation serves: what muse.h's intent table shows clients.
/// The id is what an event's `intent_id` carries; the feature names are the
/// order a client lays its features out in; the schema hash lets a client
/// check that order without comparing names.
public struct IntentSchema: Sendable, Equatable, Encodable {
    public let name: String
    /// muse.h `intent_id`.
    public let id: UInt32
    public let featureNames: [String]
    /// FNV-1a 64 of the feature names joined by "\n" (muse.h `muse_fnv1a`).
    public let schemaHash: UInt64

    public init(name: String, id: UInt32, featureNames: [String]) {
        self.name = name
        self.id = id
        self.featureNames = featureNames
        self.schemaHash = FNV1a.schemaHash(featureNames)
    }

    /// muse.h holds an intent's name in `MUSE_INTENT_NAME_SIZE` bytes with its NUL.
    public static var maximumNameBytes: Int { IntentName.maxLength }
    /// muse.h's intent table has `MUSE_MAX_INTENTS` entries.
    public static var maximumCount: Int { IntentName.maxCount }
}
