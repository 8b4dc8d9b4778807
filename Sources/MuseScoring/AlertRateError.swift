import Foundation

/// How well `n` events estimate a tenant's alert rate at a threshold: the
/// promotion gate's figure.
///
/// A map onto the reference sends the fraction `p = 1 − F_ref(t)` of a
/// tenant's events at or above threshold `t`, if its fitting sample were the
/// tenant's whole traffic. Fitted on `n` events, the fitted quantile stands
/// where a binomial count of them fell, so the rate it gives on fresh
/// traffic has standard deviation `sqrt(p(1 − p)/n)`, relative to `p` that is
/// `sqrt((1 − p)/(p·n))`: the tails need the most events.
public enum AlertRateError {
    /// `1 − F_ref(threshold)`: the alert rate the maps aim at.
    public static func expectedRate(threshold: Double, reference: ReferenceDistribution) -> Double {
        1 - reference.cdf(threshold)
    }

    /// `sqrt(p(1 − p)/n) / p`; infinite with no events or a rate of 0.
    public static func relative(rate p: Double, events n: UInt64) -> Double {
        guard n > 0, p > 0 else { return .infinity }
        return ((1 - p) / (p * Double(n))).squareRoot()
    }

    /// The fewest events that estimate rate `p` within `relativeError`.
    public static func eventsNeeded(rate p: Double, relativeError e: Double) -> UInt64 {
        guard p > 0, e > 0 else { return .max }
        let n = ((1 - p) / (p * e * e)).rounded(.up)
        return n >= Double(UInt64.max) ? .max : UInt64(n)
    }
}
