/// Which of the two layouts scores a tree ensemble: the lane walk over the
/// flattened nodes (`TreeEnsemble.walk`) or the bitvector layout
/// (`BitvectorScorer`). Both give the same bits; the choice is only speed,
/// made once when the model is built, by `LayoutCostModel`.
extension TreeEnsemble {
    public enum Layout: String, Sendable, CaseIterable {
        case laneWalk = "walk"
        case bitvector = "bitvector"
    }

    /// The layout that scores one event (and batches too small for the kernels).
    public var layout: Layout { bitvector == nil ? .laneWalk : .bitvector }
    /// The layout that scores batches of `BitvectorScorer.minimumLanes` events or more.
    public var batchLayout: Layout { batchBitvector == nil ? .laneWalk : .bitvector }

    /// The same model scored by `layout`, single events and batches,
    /// whatever the rule would pick (for tests and benchmarks); the lane
    /// walk when the model is beyond the bitvector layout's bound
    /// (`BitvectorScorer.maxEntries`).
    public func with(layout: Layout) -> TreeEnsemble {
        var copy = self
        switch layout {
        case .laneWalk: copy.bitvector = nil
        case .bitvector: copy.bitvector = bitvector ?? batchBitvector ?? makeBitvector()
        }
        copy.batchBitvector = copy.bitvector
        return copy
    }

    /// The same model with its batches scored by `kernel` (for tests and
    /// benchmarks; every kernel gives the same bits). A kernel this CPU
    /// lacks falls back to the best it has.
    public func with(batchKernel kernel: BitvectorScorer.BatchKernel) -> TreeEnsemble {
        var copy = self
        copy.batchKernel = kernel
        return copy
    }

    func makeBitvector() -> BitvectorScorer? {
        BitvectorScorer(nodes: nodes, roots: roots, categoryWords: categoryWords, featureCount: featureNames.count,
                        nextShares: nextShares)
    }

    /// Sets the layouts the cost model picks for one event and for batches
    /// (see `LayoutCostModel`).
    public mutating func selectLayout() {
        bitvector = nil
        batchBitvector = nil
        guard !featureNames.isEmpty, let b = makeBitvector() else { return }
        let s = b.statistics, features = featureNames.count
        if LayoutCostModel.prefersBitvector(s, trees: treeCount, features: features) { bitvector = b }
        let kernels = BitvectorScorer.BatchKernel.auto.resolved(for: b) != .scalar
        if LayoutCostModel.prefersBitvectorForBatches(s, trees: treeCount, features: features, kernels: kernels) {
            batchBitvector = b
        }
    }
}

/// The selection rule: estimate each layout's cost of one event from the
/// model's shape, pick the cheaper. The estimates use the training shares the
/// model file records (LightGBM's counts, XGBoost's cover; 0.5 where absent)
/// and constants fitted to the benchmark models (BENCHMARKS.md, "Scorer
/// layouts"), in nanoseconds on the development machine; only their ratios
/// matter:
/// - lane walk: a step per split on an event's expected path plus one per
///   leaf; a categorical or zero-band split takes the out-of-line slow step,
///   about ten times a numeric one (a call, a switch, a mispredicted branch);
/// - bitvector: one AND per entry an event is expected to clear (the false
///   shares of the numeric splits, the average categorical list), a binary
///   search per feature, and per word the initialisation and exit-leaf search.
/// A bitvector layout larger than `maxBitvectorBytes` is never picked.
///
/// For a batch, the walk costs what it costs per event; the bitvector
/// layout's kernels (`BitvectorScorer.scoreBatch`), where they run, score
/// an event for `batchFactor` of its single-event estimate: the batch cost
/// per row over the single-event cost measured on the benchmark and test
/// fixtures, 0.36 to 0.74 (BENCHMARKS.md, "Batch kernels"), taken near its
/// high end.
public enum LayoutCostModel {
    public static func prefersBitvector(_ s: BitvectorScorer.Statistics, trees: Int, features: Int) -> Bool {
        walkCost(s, trees: trees) > bitvectorCost(s) && s.entries * 12 <= maxBitvectorBytes
    }

    /// `kernels`: whether the batch kernels run for this layout on this
    /// CPU (`BitvectorScorer.BatchKernel.auto`); without them a batch costs
    /// what its events cost one by one, and the choice is the single-event one.
    public static func prefersBitvectorForBatches(_ s: BitvectorScorer.Statistics, trees: Int, features: Int,
                                                  kernels: Bool = true) -> Bool {
        walkCost(s, trees: trees) > (kernels ? bitvectorBatchCost(s) : bitvectorCost(s)) && s.entries * 12 <= maxBitvectorBytes
    }

    public static func bitvectorBatchCost(_ s: BitvectorScorer.Statistics) -> Double {
        bitvectorCost(s) * batchFactor
    }

    static let batchFactor = 0.7

    public static func walkCost(_ s: BitvectorScorer.Statistics, trees: Int) -> Double {
        (s.expectedSplits - s.expectedSlowSplits + Double(trees)) * walkStepNs + s.expectedSlowSplits * walkSlowStepNs
    }

    public static func bitvectorCost(_ s: BitvectorScorer.Statistics) -> Double {
        (s.falseShareSum + s.categoricalApplyEstimate) * entryNs
            + Double(s.numericFeatures + s.categoricalFeatures) * featureNs + Double(s.words) * wordNs
            + Double(s.directNodes) * directNs
    }

    static let walkStepNs = 1.7
    static let walkSlowStepNs = 18.0
    static let entryNs = 0.6
    static let featureNs = 20.0
    static let wordNs = 1.5
    static let directNs = 20.0
    static let maxBitvectorBytes = 256 << 20
}
