/// The id spaces that meet in the daemon, each its own type so one can never
/// be passed for another: a tenant's index among the daemon's segments, a
/// channel's index in its segment, the intent id a client writes into an
/// event (muse.h `intent_id`), a predictor's index in a routing table, the
/// predictor and generation ids written into completions.

/// A tenant's index in the daemon's list of segments (not a routing table's id).
public struct TenantIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "tenant#\(rawValue)" }
}

/// A channel's index within its segment.
public struct ChannelIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(rawValue)" }
}

/// The intent id of muse.h: what a client writes into `muse_event_header.intent_id`.
/// A literal is one (`IntentID(3)` and `3` read the same in a table of intents).
public struct IntentID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt32) { rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(rawValue)" }
}

extension Int {
    /// An intent id as an index: mused keeps dense per-intent tables indexed
    /// by id (ids are at most `IntentName.maxID`).
    @inlinable
    public init(_ id: IntentID) { self.init(id.rawValue) }
}

/// A predictor's index in a generation's routing table (`RoutingTable.predictors`):
/// what the per-event path, the shadow tallies and the sketches key a
/// predictor by. Its wire form is `PredictorID`. A literal is one.
@frozen
public struct PredictorIndex: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: Int
    @inlinable public init(_ rawValue: Int) { self.rawValue = rawValue }
    @inlinable public init(integerLiteral value: Int) { rawValue = value }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "predictor#\(rawValue)" }
}

/// The predictor id written into completions (`muse_completion.predictor_id`):
/// the generation's routing-table index of the predictor plus one, so that 0
/// stays "none". Converted here only, in both directions.
@frozen
public struct PredictorID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static let none = PredictorID(0)

    /// The id of the routing table's predictor `index`.
    @inlinable
    public init(index: PredictorIndex) { rawValue = UInt32(truncatingIfNeeded: index.rawValue &+ 1) }

    /// The routing table's index of this predictor; −1 for `none`, which
    /// indexes nothing (every table keyed by predictor bounds-checks it).
    @inlinable
    public var index: PredictorIndex { PredictorIndex(Int(rawValue) &- 1) }
    public var description: String { "\(rawValue)" }
}

/// A model generation's id (`muse_completion.generation_id`, the segment
/// header's `generation_id`); 0 means no generation. A literal is one.
public struct GenerationID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt64) { rawValue = value }
    public static let none = GenerationID(0)
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(rawValue)" }
}
