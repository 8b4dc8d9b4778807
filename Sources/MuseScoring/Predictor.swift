/// What a route points at: a model, or a weighted average of models (the
/// simplest DAG), whose output is then mapped to the reference scale.
///
/// Members name models by their index in the routing table, where each model
/// is held once however many predictors and tenants use it. Each model's
/// posterior correction (level 1) is applied before averaging, so the average
/// is of calibrated probabilities.
public struct Predictor: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        /// Index into the routing table's models.
        public let model: Int
        /// Normalized: a predictor's weights sum to 1.
        public let weight: Double
    }

    public let name: String
    public let members: [Member]
    /// Every member takes the same features, in the same order.
    public let featureNames: [String]

    /// The posterior-corrected probability (before level 2).
    func posterior(
        _ features: UnsafeBufferPointer<Double>, models: [any ScoringModel], corrections: [PosteriorCorrection]
    ) -> Double {
        if members.count == 1 {
            let m = members[0].model
            return corrections[m].apply(models[m].probability(features))
        }
        var sum = 0.0
        for member in members {
            sum += member.weight * corrections[member.model].apply(models[member.model].probability(features))
        }
        return sum
    }
}
