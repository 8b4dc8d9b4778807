import Foundation
import MuseControl
import MuseScoring

/// The promotion gate's figures: per tenant, the events its sketch holds,
/// the map it gets, and at each of its alert thresholds the sampling error
/// of the alert rate (`AlertRateError`) against the configured bound.
enum PromotionFigures {
    /// The report's tenants, and one line per (tenant, threshold) the gate
    /// refuses. A tenant in `allowThin` passes with its figures shown.
    static func judge(maps: TenantMaps, events: [String: UInt64], thresholds: [String: [Double]],
                      reference: ReferenceDistribution, maximumRelativeError: Double,
                      allowThin: Set<String>) -> (tenants: [PromoteReport.Tenant], failures: [String]) {
        var tenants = [PromoteReport.Tenant](), failures = [String]()
        for entry in maps.entries {
            let n = events[entry.tenant] ?? 0
            let map: String
            switch entry.origin {
            case .ownSample: map = "own map"
            case .pooled(let why): map = "pooled map (\(why))"
            }
            var figures = [PromoteReport.Threshold]()
            for t in thresholds[entry.tenant] ?? [] {
                let p = AlertRateError.expectedRate(threshold: t, reference: reference)
                let e = AlertRateError.relative(rate: p, events: n)
                let verdict: String
                if e <= maximumRelativeError {
                    verdict = "pass"
                } else {
                    let needed = AlertRateError.eventsNeeded(rate: p, relativeError: maximumRelativeError)
                    let why = "\(n) events estimate the alert rate \(percent(p)) within \(percent(e)), "
                        + "more than the allowed \(percent(maximumRelativeError)) (that needs \(needed) events)"
                    if allowThin.contains(entry.tenant) {
                        verdict = "allowed thin: " + why
                    } else {
                        verdict = why
                        failures.append("tenant \(entry.tenant), threshold \(t): \(why)")
                    }
                }
                figures.append(PromoteReport.Threshold(threshold: t, expectedRate: p, relativeError: e.isFinite ? e : nil, verdict: verdict))
            }
            tenants.append(PromoteReport.Tenant(tenant: entry.tenant, events: n, map: map, thresholds: figures))
        }
        return (tenants, failures)
    }

    static func percent(_ x: Double) -> String {
        x.isFinite ? String(format: "%.3g%%", x * 100) : "∞"
    }
}
