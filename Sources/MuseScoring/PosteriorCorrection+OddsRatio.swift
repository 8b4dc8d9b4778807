extension PosteriorCorrection {
    /// A correction with this exact odds factor, e.g. as a snapshot recorded
    /// it: rebuilding from the factor's bits, rather than from the priors it
    /// was computed from, cannot round differently.
    public init(oddsRatio: Double) throws(ScoreMapError) {
        guard oddsRatio.isFinite, oddsRatio > 0 else {
            throw .invalidParameter("odds ratio \(oddsRatio) is not a positive finite number")
        }
        self.init(uncheckedOddsRatio: oddsRatio)
    }
}
