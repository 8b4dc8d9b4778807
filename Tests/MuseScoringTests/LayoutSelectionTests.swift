import Testing
@testable import MuseScoring

/// The layout a model is scored by is the one `LayoutCostModel` estimates
/// cheaper, chosen when the model is built; either gives the same bits (the
/// exactness suites run both).
@Suite struct LayoutSelectionTests {
    @Test(arguments: Fixtures.lightgbm.map { "\($0).lgb.txt" } + Fixtures.xgboost.map { "\($0).xgb.json" })
    func importedModelsFollowTheCostModel(_ file: String) throws {
        let model = try #require(try ModelImporter.load(try Fixtures.bytes(file)) as? TreeEnsemble)
        let s = model.with(layout: .bitvector).bitvector!.statistics
        let cheaper: TreeEnsemble.Layout = LayoutCostModel.prefersBitvector(s, trees: model.treeCount, features: model.featureNames.count)
            ? .bitvector : .laneWalk
        #expect(model.layout == cheaper)
        let kernels = BitvectorScorer.BatchKernel.auto.resolved(for: model.with(layout: .bitvector).bitvector!) != .scalar
        let cheaperForBatches: TreeEnsemble.Layout = LayoutCostModel.prefersBitvectorForBatches(
            s, trees: model.treeCount, features: model.featureNames.count, kernels: kernels) ? .bitvector : .laneWalk
        #expect(model.batchLayout == cheaperForBatches)
        // The kernels only lower the bitvector layout's cost.
        #expect(cheaper == .laneWalk || cheaperForBatches == .bitvector)
        #expect(model.with(layout: .laneWalk).layout == .laneWalk)
        #expect(model.with(layout: .laneWalk).batchLayout == .laneWalk)
        #expect(model.with(layout: .bitvector).batchLayout == .bitvector)
        #expect(model.with(layout: .bitvector).with(layout: .laneWalk).bitvector == nil)
    }

    /// The 20-tree random forest is walked one event at a time but scored by
    /// the bitvector kernels in batches (measured: 0.25 µs walked, 0.21 µs
    /// by the bitvector one at a time, 0.08 µs per row by the kernels).
    @Test func aForestIsWalkedAloneButBatchedByTheKernels() throws {
        let model = try #require(try ModelImporter.load(try Fixtures.bytes("random_forest.lgb.txt")) as? TreeEnsemble)
        let kernels = BitvectorScorer.BatchKernel.auto.resolved(for: model.with(layout: .bitvector).bitvector!) != .scalar
        try #require(kernels, "no batch kernels on this CPU")
        #expect(model.layout == .laneWalk && model.batchLayout == .bitvector)
        #expect(model.bitvector == nil && model.batchBitvector != nil)
    }

    /// Categorical splits cost the walk its slow step: the bitvector wins.
    @Test func categoricalModelsPickTheBitvector() throws {
        var rng = SplitMix64(seed: 12)
        let source = TreeWalkTests.randomTrees(&rng, features: 6, trees: 100, rules: [.numeric, .lightgbmCategory], maxDepth: 6, leafChance: 0.05)
        let model = try TreeEnsemble(featureNames: (0..<6).map { "x\($0)" }, trees: source, baseMargin: 0,
                                     accumulation: .double(divisor: 1), link: .lightgbmSigmoid(k: 1), format: "test")
        #expect(model.layout == .bitvector)
    }

    /// Training shares orient splits but never change a score.
    @Test func sharesOnlyOrient() throws {
        var rng = SplitMix64(seed: 13)
        var source = TreeWalkTests.randomTrees(&rng, features: 5, trees: 20, rules: [.numeric, .xgboostCategory, .zeroBandMissing])
        let plain = try TreeEnsemble(featureNames: (0..<5).map { "x\($0)" }, trees: source, baseMargin: 0,
                                     accumulation: .float, link: .xgboostSigmoid, format: "test").with(layout: .bitvector)
        for t in source.indices { for s in source[t].splits.indices { source[t].splits[s].leftShare = 1 - (source[t].splits[s].leftShare.isNaN ? 0.9 : source[t].splits[s].leftShare) } }
        let flipped = try TreeEnsemble(featureNames: (0..<5).map { "x\($0)" }, trees: source, baseMargin: 0,
                                       accumulation: .float, link: .xgboostSigmoid, format: "test").with(layout: .bitvector)
        for x in TreeWalkTests.rows(&rng, count: 500, features: 5) {
            #expect(try plain.checkedMargin(x).bitPattern == flipped.checkedMargin(x).bitPattern)
        }
    }
}

extension LayoutSelectionTests {
    /// A lopsided tree whose left subtrees span many words would need
    /// quadratically many entries: past the bound the model is walked.
    @Test func lopsidedTreesPastTheBoundAreWalked() throws {
        let leaves = 600
        // Split i: leaf to the right, split i + 1 to the left; every left subtree spans the rest.
        let splits = (0..<(leaves - 1)).map { i in
            SourceTree.Split(feature: 0, rule: .numeric, threshold: Double(leaves - i), missingGoesLeft: false,
                             left: i + 1 < leaves - 1 ? .split(i + 1) : .leaf(0.5), right: .leaf(Double(i) / 1000))
        }
        let model = try TreeEnsemble(featureNames: ["x"], trees: [SourceTree(root: .split(0), splits: splits)], baseMargin: 0,
                                     accumulation: .double(divisor: 1), link: .lightgbmSigmoid(k: 1), format: "test")
        let n = model.nodes, r = model.roots, c = model.categoryWords
        let full = try #require(BitvectorScorer(nodes: n, roots: r, categoryWords: c, featureCount: 1))
        #expect(full.statistics.entries > 2000)
        #expect(BitvectorScorer(nodes: n, roots: r, categoryWords: c, featureCount: 1, maxEntries: 2000) == nil)
        for x in [0.0, 1, 17.5, 300, 599, 601, .nan] {
            #expect(try model.with(layout: .bitvector).checkedMargin([x]).bitPattern == model.with(layout: .laneWalk).checkedMargin([x]).bitPattern)
        }
    }
}

extension LayoutSelectionTests {
    /// A categorical split with a huge bitset (the most an importer takes)
    /// is decided directly: its table would have 2^27 keys, and is not
    /// allocated to find that out.
    @Test func aHugeCategoryBitsetIsDecidedWithoutATable() throws {
        var words = [UInt32](repeating: 0, count: ModelLimits.maxCategoryWords)
        words[0] = 0b1010
        words[words.count - 1] = 1 << 31
        let split = SourceTree.Split(feature: 0, rule: .lightgbmCategory, missingGoesLeft: false, categories: words,
                                     left: .leaf(1), right: .leaf(-1))
        let model = try TreeEnsemble(featureNames: ["c"], trees: [SourceTree(root: .split(0), splits: [split])], baseMargin: 0,
                                     accumulation: .double(divisor: 1), link: .lightgbmSigmoid(k: 1), format: "test")
        let clock = ContinuousClock()
        let start = clock.now
        let bits = try #require(model.with(layout: .bitvector).bitvector)
        #expect(clock.now - start < .seconds(2))
        #expect(bits.statistics.directNodes == 1 && bits.statistics.categoricalNodes == 0)
        let walk = model.with(layout: .laneWalk), vector = model.with(layout: .bitvector)
        for x in [0.0, 1, 3, 4, Double(32 * words.count - 1), Double(32 * words.count), -1, .nan] {
            #expect(try vector.checkedMargin([x]).bitPattern == walk.checkedMargin([x]).bitPattern, "\(x)")
        }
    }

    /// However large `maxEntries`, a layout holds at most
    /// `maxEntriesPerElement` entries per node: a lopsided tree that would
    /// need more is walked.
    @Test func theLayoutIsBoundedByTheModelsSize() throws {
        func chain(_ leaves: Int) throws -> TreeEnsemble {
            let splits = (0..<(leaves - 1)).map { i in
                SourceTree.Split(feature: 0, rule: .numeric, threshold: Double(leaves - i), missingGoesLeft: false,
                                 left: i + 1 < leaves - 1 ? .split(i + 1) : .leaf(0.5), right: .leaf(Double(i) / 1000))
            }
            return try TreeEnsemble(featureNames: ["x"], trees: [SourceTree(root: .split(0), splits: splits)], baseMargin: 0,
                                    accumulation: .double(divisor: 1), link: .lightgbmSigmoid(k: 1), format: "test")
        }
        // About leaves²/128 entries against 64 × 2 × leaves allowed.
        let fits = try chain(8000), past = try chain(20_000)
        let s = try #require(BitvectorScorer(nodes: fits.nodes, roots: fits.roots, categoryWords: [], featureCount: 1)).statistics
        #expect(s.entries > 100_000 && s.entries <= BitvectorScorer.maxEntriesPerElement * fits.nodes.count)
        #expect(BitvectorScorer(nodes: past.nodes, roots: past.roots, categoryWords: [], featureCount: 1) == nil)
        #expect(past.layout == .laneWalk)
    }
}
