/// Level 1 of the score transformation: undoes the class-prior distortion of
/// training, so a model trained at one fraud rate (say after keeping only a
/// fraction β of the negatives) answers with the posterior at the rate it
/// serves at.
///
/// Bayes' rule with the class-conditional likelihoods held fixed gives the
/// standard prior-shift correction: the posterior odds scale by the ratio of
/// the prior odds, `odds' = odds · r` with
/// `r = (π_s / (1 − π_s)) / (π_t / (1 − π_t))`. Negative subsampling at rate β
/// is the special case `r = β` (Dal Pozzolo et al., 2015). The map is strictly
/// increasing on [0, 1] for any `r > 0`, so it never changes the ranking.
public struct PosteriorCorrection: Sendable, Equatable, Hashable {
    /// The factor the posterior odds are multiplied by; 1 is the identity.
    public let oddsRatio: Double

    /// No correction: the model already serves at the prior it was trained at.
    public static let identity = PosteriorCorrection(uncheckedOddsRatio: 1)

    init(uncheckedOddsRatio: Double) { oddsRatio = uncheckedOddsRatio }

    /// From the positive-class prior seen in training and the one met in serving.
    public init(trainingPrior: Double, servingPrior: Double) throws(ScoreMapError) {
        for (name, p) in [("training prior", trainingPrior), ("serving prior", servingPrior)]
        where !(p > 0 && p < 1) {
            throw .invalidParameter("\(name) must lie strictly between 0 and 1, got \(p)")
        }
        let r = (servingPrior / (1 - servingPrior)) / (trainingPrior / (1 - trainingPrior))
        guard r.isFinite, r > 0 else { throw .invalidParameter("prior odds ratio \(r) is not a positive finite number") }
        oddsRatio = r
    }

    /// From the rate β at which negatives were kept when the training set was
    /// subsampled (positives all kept); the serving prior is the unsampled one.
    public init(negativeSamplingRate beta: Double) throws(ScoreMapError) {
        guard beta > 0, beta <= 1 else {
            throw .invalidParameter("negative sampling rate must lie in (0, 1], got \(beta)")
        }
        oddsRatio = beta
    }

    /// From the odds ratio itself, as a map file records it (see
    /// `ScoreMapFile`): every way of configuring level 1 comes down to it.
    public init(oddsRatio r: Double) throws(ScoreMapError) {
        guard r.isFinite, r > 0 else { throw .invalidParameter("posterior odds ratio must be a positive finite number, got \(r)") }
        oddsRatio = r
    }

    public var isIdentity: Bool { oddsRatio == 1 }

    /// The corrected posterior. 0 and 1 are fixed points; NaN stays NaN.
    @inlinable
    public func apply(_ p: Double) -> Double {
        // The identity must be exact: r·p + (1 − p) need not round to 1.
        if oddsRatio == 1 { return p }
        // r·p / (r·p + 1 − p): the odds form, written so p = 1 gives exactly 1.
        let rp = oddsRatio * p
        return rp / (rp + (1 - p))
    }
}
