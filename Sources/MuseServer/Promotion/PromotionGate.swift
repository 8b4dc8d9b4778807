/// The bound the promotion gate applies, and how much shadowed traffic it needs.
public struct PromotionGate: Sendable, Equatable {
    /// Largest PSI of a tenant's shadow scores against the reference deciles
    /// (0.1 is the customary "no significant shift" line).
    public var maximumPSI: Double = 0.1
    /// Fewest shadowed events per tenant before the gate will judge.
    public var minimumEvents: UInt64 = 1000
    /// For `promote`: the largest relative sampling error of a tenant's
    /// alert rate at each of its thresholds, given the events its sketch
    /// holds (`AlertRateError`). 0.1 asks for a rate known to ±10% (one
    /// standard deviation): 1,900 events at a 5% rate, 9,900 at 1%.
    public var maximumRelativeError: Double = 0.1
    public init(maximumPSI: Double = 0.1, minimumEvents: UInt64 = 1000, maximumRelativeError: Double = 0.1) {
        self.maximumPSI = maximumPSI
        self.minimumEvents = minimumEvents
        self.maximumRelativeError = maximumRelativeError
    }
}
