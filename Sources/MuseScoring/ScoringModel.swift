/// A binary classifier that scores one event from its features.
///
/// Models are immutable once built and shared by every worker thread and by
/// every tenant routed to them, so conformers must be safe to call
/// concurrently without locks.
public protocol ScoringModel: Sendable {
    /// Feature names in the order `features` is laid out.
    var featureNames: [String] { get }

    /// The score before the model's link function (log-odds for a sigmoid link).
    /// `features.count` must equal `featureNames.count`; NaN means missing.
    func margin(_ features: UnsafeBufferPointer<Double>) -> Double

    /// The model's probability of the positive class (link applied to `margin`).
    func probability(_ features: UnsafeBufferPointer<Double>) -> Double

    /// Margins of `out.count` events laid out row after row in `rows`
    /// (`featureNames.count` values each); equal to calling `margin` on each.
    /// Has a default; tree ensembles override it with a cache-friendlier walk.
    func margins(rows: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) throws(FeatureCountError)

    /// Probabilities of `out.count` rows (see `margins`); each equals
    /// `probability` of that row exactly. Has a default.
    func probabilities(rows: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) throws(FeatureCountError)
}
