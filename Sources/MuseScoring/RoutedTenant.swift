/// A tenant's id in one generation's routing table: its index in the table's
/// sorted tenant names. A different numbering from the daemon's `TenantIndex`
/// (its segment order), and from one generation's table to the next, so the
/// two never mix; `Serving` maps one to the other once per generation.
/// Four bytes, like the table's own slots, so a per-tenant map of them stays
/// small. A literal is one.
@frozen
public struct RoutedTenant: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    @inlinable public init(integerLiteral value: Int32) { rawValue = value }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "routed-tenant#\(rawValue)" }

    /// No tenant of the table: every lookup with it finds no route.
    public static let unrouted = RoutedTenant(-1)
}
