import MuseCore

extension RoutingTable {
    /// The odds ratio of predictor `index`'s level 1 when it is one model
    /// (a map fitted on its scores records it); nil for a blend, whose
    /// members each have their own.
    public func levelOneOddsRatio(predictor index: PredictorIndex) -> Double? {
        let members = predictor(index).members
        return members.count == 1 ? corrections[members[0].model].oddsRatio : nil
    }

    /// A fingerprint of predictor `index`'s level 1 (FNV-1a): each member's
    /// model name, feature names, weight and posterior correction, and the
    /// model's probabilities on a few fixed probe rows, which stand for the
    /// model's content (two models under one name differ there). Score
    /// sketches are keyed by it beside the predictor's name, so scores of two
    /// level-1 setups served under one name are never merged, while a
    /// generation that keeps the predictor as it was keeps its fingerprint on
    /// every host.
    public func levelOneFingerprint(predictor index: PredictorIndex) -> UInt64 {
        var hash = FNV1a.offsetBasis
        func mix<S: Sequence<UInt8>>(_ bytes: S) { hash = FNV1a.hash(bytes, seed: hash) }
        func mix(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { mix($0) } }
        func mix(_ text: String) {
            mix(UInt64(text.utf8.count))
            mix(text.utf8)
        }
        let predictor = self.predictor(index)
        mix(UInt64(predictor.members.count))
        for member in predictor.members {
            let model = models[member.model]
            mix(modelNames[member.model])
            mix(UInt64(model.featureNames.count))
            for name in model.featureNames { mix(name) }
            mix(member.weight.bitPattern)
            mix(corrections[member.model].oddsRatio.bitPattern)
            var rng = SplitMix64(seed: 0x5eed)
            for _ in 0..<4 {
                let row = model.featureNames.map { _ in rng.uniform() * 4 - 2 }
                mix(row.withUnsafeBufferPointer { model.probability($0) }.bitPattern)
            }
        }
        return hash
    }
}
