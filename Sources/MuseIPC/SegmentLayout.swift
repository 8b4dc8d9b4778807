import CMuse

/// The shape of a tenant's segment: how many channels, how deep their rings,
/// how many features a slot holds. The daemon keeps this private copy and
/// never re-reads it from shared memory, where a client could change it.
public struct SegmentLayout: Equatable, Sendable {
    public let channelCount: Int
    public let ringDepth: Int
    public let maxFeatures: Int
    /// Bytes of the schema area between the header and channel 0 (ABI 1.1):
    /// the intents' feature names. 0 for a segment made by an ABI 1.0 daemon.
    public let schemaBytes: Int

    public static let maxChannels = 1024
    /// Room for the schema index and about 5,000 feature names of 12 bytes.
    public static let defaultSchemaBytes = 65536
    public static let maxSchemaBytes = 16 << 20
    public static let maxRingDepth = 1 << 16
    public static let maxFeatureLimit = 4096

    public init(channelCount: Int, ringDepth: Int, maxFeatures: Int,
                schemaBytes: Int = SegmentLayout.defaultSchemaBytes) throws(LayoutError) {
        guard (1...Self.maxChannels).contains(channelCount) else { throw .channelCount(channelCount) }
        guard (2...Self.maxRingDepth).contains(ringDepth), ringDepth & (ringDepth - 1) == 0 else {
            throw .ringDepth(ringDepth)
        }
        guard (1...Self.maxFeatureLimit).contains(maxFeatures) else { throw .maxFeatures(maxFeatures) }
        guard schemaBytes == 0 || (Int(MUSE_SCHEMA_INDEX_SIZE)...Self.maxSchemaBytes).contains(schemaBytes)
                && schemaBytes % 4096 == 0 else { throw .schemaBytes(schemaBytes) }
        self.schemaBytes = schemaBytes
        self.channelCount = channelCount
        self.ringDepth = ringDepth
        self.maxFeatures = maxFeatures
    }

    public var submissionSlotSize: Int { Int(muse_submission_slot_size(UInt32(maxFeatures))) }
    public var completionSlotSize: Int { MemoryLayout<muse_completion>.size }
    /// Where the schema area starts (right after the header), if there is one.
    public var schemaOffset: Int { Int(MUSE_HEADER_SIZE) }
    public var channelsOffset: Int { Int(MUSE_HEADER_SIZE) + schemaBytes }
    public var channelStride: Int { Int(muse_channel_stride(UInt32(ringDepth), UInt32(maxFeatures))) }
    public var segmentSize: Int { channelsOffset + channelCount * channelStride }
    /// Offset of channel `index`'s submission ring from its control block.
    public var submissionRingOffset: Int { Int(MUSE_CHANNEL_CONTROL_SIZE) }
    /// Offset of channel `index`'s completion ring from its control block.
    public var completionRingOffset: Int { submissionRingOffset + ringDepth * submissionSlotSize }

    public enum LayoutError: Error, CustomStringConvertible, Equatable {
        case channelCount(Int), ringDepth(Int), maxFeatures(Int), schemaBytes(Int)
        public var description: String {
            switch self {
            case .channelCount(let n): "channels must be 1...\(SegmentLayout.maxChannels), got \(n)"
            case .ringDepth(let n): "ring depth must be a power of two in 2...\(SegmentLayout.maxRingDepth), got \(n)"
            case .maxFeatures(let n): "max features must be 1...\(SegmentLayout.maxFeatureLimit), got \(n)"
            case .schemaBytes(let n): "the schema area must be 0 or a multiple of 4096 up to \(SegmentLayout.maxSchemaBytes), got \(n)"
            }
        }
    }
}
