/// An intent's id in one generation's routing table: its index in the
/// table's sorted intent names. Not the muse.h `IntentID` a client writes
/// (a `Generation` maps that to this once per generation), and it changes
/// from one generation's table to the next. Four bytes, like the table's own
/// slots, so a dense map of them by `IntentID` stays small. A literal is one.
@frozen
public struct RoutedIntent: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    @inlinable public init(integerLiteral value: Int32) { rawValue = value }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "routed-intent#\(rawValue)" }

    /// No intent of the table: every lookup with it finds no route.
    public static let unrouted = RoutedIntent(-1)
}
