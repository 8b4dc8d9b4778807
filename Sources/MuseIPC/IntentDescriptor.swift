import MuseCore

/// An intent a tenant may submit, as the segment's intent table shows it.
public struct IntentDescriptor: Equatable, Sendable {
    public let name: String
    public let id: IntentID
    public let featureNames: [String]

    public init(name: String, id: IntentID, featureNames: [String]) {
        self.name = name
        self.id = id
        self.featureNames = featureNames
    }

    public var featureCount: Int { featureNames.count }

    /// FNV-1a of the feature names joined by newlines: a client can check it
    /// built its feature vector for the schema the daemon serves.
    public var schemaHash: UInt64 { FNV1a.schemaHash(featureNames) }
}
