/// One intent a generation serves, as every side sees it: the snapshot file
/// declares it, mused publishes it in each segment's intent table (muse.h's
/// `muse_intent_info`), and the drain checks events against it. The id is
/// what an event's `intent_id` carries; the feature names are the order a
/// client lays its features out in; the schema hash lets a client check
/// that order without comparing names.
public struct IntentSchema: Sendable, Equatable, Encodable {
    public let name: String
    /// muse.h `intent_id`.
    public let id: IntentID
    public let featureNames: [String]
    /// FNV-1a 64 of the feature names joined by "\n" (muse.h `muse_fnv1a`).
    public let schemaHash: UInt64

    public init(name: String, id: IntentID, featureNames: [String]) {
        self.name = name
        self.id = id
        self.featureNames = featureNames
        self.schemaHash = FNV1a.schemaHash(featureNames)
    }

    public var featureCount: Int { featureNames.count }

    /// muse.h holds an intent's name in `MUSE_INTENT_NAME_SIZE` bytes with its NUL.
    public static var maximumNameBytes: Int { IntentName.maxLength }
    /// muse.h's intent table has `MUSE_MAX_INTENTS` entries.
    public static var maximumCount: Int { IntentName.maxCount }

    private enum CodingKeys: String, CodingKey { case name, id, featureNames, schemaHash }

    /// The id as the number muse.h carries (JSON readers never see the wrapper).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(id.rawValue, forKey: .id)
        try container.encode(featureNames, forKey: .featureNames)
        try container.encode(schemaHash, forKey: .schemaHash)
    }
}
