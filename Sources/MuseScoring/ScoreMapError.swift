/// What can go wrong building or fitting a score map. File-format errors
/// carry their own location (see `ScoreMapFileError`).
public enum ScoreMapError: Error, Equatable, CustomStringConvertible {
    /// A reference or correction parameter out of its domain.
    case invalidParameter(String)
    /// A fitting sample with no scores.
    case emptySample
    /// A fitting sample holding NaN or an infinity, at this index.
    case nonFiniteScore(index: Int, value: Double)
    /// A fitting sample whose scores are all one value: no distribution to map.
    case degenerateSample(value: Double, count: Int)
    /// A knot table that is not a monotone map.
    case invalidKnots(String)

    public var description: String {
        switch self {
        case .invalidParameter(let why): return why
        case .emptySample: return "the score sample is empty"
        case .nonFiniteScore(let i, let v): return "score #\(i + 1) is \(v); scores must be finite"
        case .degenerateSample(let v, let n):
            return "all \(n) scores equal \(v); a quantile map needs at least two distinct scores"
        case .invalidKnots(let why): return why
        }
    }
}
