/// Which of the two layouts scores a tree ensemble: the lane walk over the
/// flattened nodes (`TreeEnsemble.walk`) or the bitvector layout
/// (`BitvectorScorer`). Both give the same bits; the choice is only speed,
/// made once when the model is built, by `LayoutCostModel`.
extension TreeEnsemble {
    public enum Layout: String, Sendable, CaseIterable {
        case laneWalk = "walk"
        case bitvector = "bitvector"
    }

    public var layout: Layout { bitvector == nil ? .laneWalk : .bitvector }

    /// The same model scored by `layout`, whatever the rule would pick (for
    /// tests and benchmarks).
    public func with(layout: Layout) -> TreeEnsemble {
        var copy = self
        switch layout {
        case .laneWalk: copy.bitvector = nil
        case .bitvector: copy.bitvector = bitvector ?? makeBitvector()
        }
        return copy
    }

    func makeBitvector() -> BitvectorScorer {
        BitvectorScorer(nodes: nodes, roots: roots, categoryWords: categoryWords, featureCount: featureNames.count,
                        nextShares: nextShares)
    }

    /// Sets the layout the cost model picks (see `LayoutCostModel`).
    public mutating func selectLayout() {
        guard !featureNames.isEmpty else { bitvector = nil; return }
        let b = makeBitvector()
        bitvector = LayoutCostModel.prefersBitvector(b.statistics, trees: treeCount, features: featureNames.count) ? b : nil
    }
}

/// The selection rule, from measured costs on the benchmark models
/// (BENCHMARKS.md, "Scorer layouts"). Estimated per event:
/// - lane walk: every split on each tree's path plus its leaf, a step each;
///   the average over leaves (unweighted) stands in for the path length;
/// - bitvector: about half the numeric entries are ANDed (a feature's value
///   falls mid-way through its thresholds on average), plus a binary search
///   per feature, one categorical list per categorical feature, direct nodes
///   one by one, and one exit leaf per tree.
public enum LayoutCostModel {
    public static func prefersBitvector(_ s: BitvectorScorer.Statistics, trees: Int, features: Int) -> Bool {
        return walkCost(s, trees: trees) > bitvectorCost(s, trees: trees, features: features)
    }

    public static func walkCost(_ s: BitvectorScorer.Statistics, trees: Int) -> Double {
        let steps = Double(s.splitDepthSum) / Double(max(s.leaves, 1)) * Double(trees) + Double(trees)
        return steps * walkStepNs
    }

    public static func bitvectorCost(_ s: BitvectorScorer.Statistics, trees: Int, features: Int) -> Double {
        let numericEntries = Double(s.entries - s.tableEntries)  // roughly; tables hold one list per category
        return numericEntries * 0.5 * entryNs + Double(features) * featureNs + Double(trees) * exitNs
            + Double(s.directNodes) * directNs
    }

    static let walkStepNs = 1.2
    static let entryNs = 0.4
    static let featureNs = 10.0
    static let exitNs = 1.0
    static let directNs = 5.0
}
