/// The fixed distribution a tenant's scores are mapped onto (level 2). Tenants
/// set thresholds on this scale once; every retrained model is mapped onto the
/// same reference, so a threshold t keeps alerting on the fraction
/// `1 − F_ref(t)` of that tenant's traffic.
public struct ReferenceDistribution: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case uniform
        case beta(a: Double, b: Double, logBeta: Double)
        /// Sorted values, read as a continuous distribution by linear
        /// interpolation between order statistics.
        case empirical([Double])
    }
    let kind: Kind

    /// Uniform on [0, 1]: the reference score is the tenant's score quantile.
    public static let uniform = ReferenceDistribution(kind: .uniform)

    /// Beta(a, b) on [0, 1], e.g. to give the reference scale a fraud-like shape.
    public static func beta(_ a: Double, _ b: Double) throws(ScoreMapError) -> ReferenceDistribution {
        guard a > 0, b > 0, a.isFinite, b.isFinite else {
            throw .invalidParameter("beta reference needs finite a > 0 and b > 0, got a=\(a), b=\(b)")
        }
        return ReferenceDistribution(kind: .beta(a: a, b: b, logBeta: IncompleteBeta.logBeta(a, b)))
    }

    /// An empirical reference: a sample of scores (e.g. a legacy model's) whose
    /// distribution every map reproduces.
    public static func empirical(_ sample: [Double]) throws(ScoreMapError) -> ReferenceDistribution {
        guard !sample.isEmpty else { throw .emptySample }
        if let i = sample.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteScore(index: i, value: sample[i])
        }
        let sorted = sample.sorted()
        guard sorted.first! < sorted.last! else {
            throw .invalidParameter(
                "an empirical reference needs at least two distinct values, got \(sorted.count) copies of \(sorted[0])")
        }
        return ReferenceDistribution(kind: .empirical(sorted))
    }

    /// The name written into map files: `uniform`, `beta A B`, `empirical N`.
    public var name: String {
        switch kind {
        case .uniform: return "uniform"
        case .beta(let a, let b, _): return "beta \(a) \(b)"
        case .empirical(let v): return "empirical \(v.count)"
        }
    }

    /// F⁻¹(u) for u in [0, 1]; exact at the ends (u = 0 gives the support's
    /// minimum, u = 1 its maximum). NaN stays NaN.
    public func quantile(_ u: Double) -> Double {
        if u.isNaN { return u }
        let u = min(max(u, 0), 1)
        switch kind {
        case .uniform: return u
        case .beta(let a, let b, _): return IncompleteBeta.inverse(u, a, b)
        case .empirical(let v):
            let pos = u * Double(v.count - 1)
            let i = min(Int(pos), v.count - 2)
            let f = pos - Double(i)
            return f == 0 ? v[i] : min(v[i] + f * (v[i + 1] - v[i]), v[i + 1])
        }
    }

    /// F(x): the inverse of `quantile`, used to measure how close mapped
    /// scores are to the reference (drift, Kolmogorov–Smirnov).
    public func cdf(_ x: Double) -> Double {
        if x.isNaN { return x }
        switch kind {
        case .uniform: return min(max(x, 0), 1)
        case .beta(let a, let b, let lnB): return IncompleteBeta.regularized(x, a, b, logBeta: lnB)
        case .empirical(let v):
            if x <= v[0] { return 0 }
            if x >= v[v.count - 1] { return 1 }
            // Last index with v[i] <= x; ties in the reference give a jump.
            var lo = 0, hi = v.count - 1
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if v[mid] <= x { lo = mid } else { hi = mid }
            }
            let f = v[lo + 1] > v[lo] ? (x - v[lo]) / (v[lo + 1] - v[lo]) : 0
            return (Double(lo) + f) / Double(v.count - 1)
        }
    }
}
