import CMuse

/// An intent a tenant may submit, as the segment's intent table shows it.
public struct IntentDescriptor: Equatable, Sendable {
    public let name: String
    public let id: UInt32
    public let featureNames: [String]

    public init(name: String, id: UInt32, featureNames: [String]) {
        self.name = name
        self.id = id
        self.featureNames = featureNames
    }

    public var featureCount: Int { featureNames.count }

    /// FNV-1a of the feature names joined by newlines: a client can check it
    /// built its feature vector for the schema the daemon serves.
    public var schemaHash: UInt64 {
        var bytes = Array(featureNames.joined(separator: "\n").utf8)
        return muse_fnv1a(&bytes, bytes.count, MUSE_FNV1A_SEED)
    }
}
