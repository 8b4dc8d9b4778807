/// The same model under other feature names, position for position: a model
/// trained on a bare array knows its features only as f0, f1, ...
extension TreeEnsemble {
    public func renamingFeatures(_ names: [String]) throws(FeatureCountError) -> TreeEnsemble {
        guard names.count == featureNames.count else { throw FeatureCountError(expected: featureNames.count, actual: names.count) }
        var copy = self
        copy.featureNames = names
        return copy
    }
}

extension LogisticModel {
    public func renamingFeatures(_ names: [String]) throws(FeatureCountError) -> LogisticModel {
        guard names.count == featureNames.count else { throw FeatureCountError(expected: featureNames.count, actual: names.count) }
        var copy = self
        copy.featureNames = names
        return copy
    }
}
