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

    /// `posterior` of `out.count` rows at once (row after row in `rows`),
    /// bit for bit: each model scores the rows in one call (its batch
    /// kernel), then the same corrections and sums as `posterior`, in the
    /// same order. `work` holds `out.count` doubles for a blend's members.
    func posteriors(
        rows: UnsafeBufferPointer<Double>, models: [any ScoringModel], corrections: [PosteriorCorrection],
        into out: UnsafeMutableBufferPointer<Double>, work: UnsafeMutableBufferPointer<Double>
    ) {
        if members.count == 1 {
            let m = members[0].model
            // The caller checked the width: rows.count == out.count * featureNames.count.
            try? models[m].probabilities(rows: rows, into: out)
            for i in out.indices { out[i] = corrections[m].apply(out[i]) }
            return
        }
        for i in out.indices { out[i] = 0.0 }
        let probabilities = UnsafeMutableBufferPointer(rebasing: work[0..<out.count])
        for member in members {
            try? models[member.model].probabilities(rows: rows, into: probabilities)
            for i in out.indices { out[i] += member.weight * corrections[member.model].apply(probabilities[i]) }
        }
    }
}
