extension ScoringModel {
    public func margins(rows: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) throws(FeatureCountError) {
        let width = featureNames.count
        guard rows.count == width * out.count else { throw FeatureCountError(expected: width * out.count, actual: rows.count) }
        for i in 0..<out.count {
            out[i] = margin(UnsafeBufferPointer(rebasing: rows[i * width..<(i + 1) * width]))
        }
    }

    public func probabilities(rows: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) throws(FeatureCountError) {
        let width = featureNames.count
        guard rows.count == width * out.count else { throw FeatureCountError(expected: width * out.count, actual: rows.count) }
        for i in 0..<out.count {
            out[i] = probability(UnsafeBufferPointer(rebasing: rows[i * width..<(i + 1) * width]))
        }
    }

    /// `margin`, but a wrong feature count is an error instead of NaN.
    public func checkedMargin(_ features: [Double]) throws(FeatureCountError) -> Double {
        guard features.count == featureNames.count else { throw FeatureCountError(expected: featureNames.count, actual: features.count) }
        return features.withUnsafeBufferPointer { margin($0) }
    }

    /// `probability`, but a wrong feature count is an error instead of NaN.
    public func checkedProbability(_ features: [Double]) throws(FeatureCountError) -> Double {
        guard features.count == featureNames.count else { throw FeatureCountError(expected: featureNames.count, actual: features.count) }
        return features.withUnsafeBufferPointer { probability($0) }
    }
}
