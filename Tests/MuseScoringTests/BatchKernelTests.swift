import Testing
@testable import MuseScoring

/// The batch kernels (`BitvectorScorer.scoreBatch`, `muse_kernels.h`):
/// every kernel this CPU runs gives, for every batch size from 1 to 64
/// (one event, sizes below the kernels' minimum, blocks of eight, and
/// every remainder), the library's own bits on every fixture, and the bits
/// of a plain recursive walk on random trees with NaN, categories, the
/// zero band and both bitvector forms.
@Suite struct BatchKernelTests {
    static let kernels = BitvectorScorer.BatchKernel.available

    /// Each fixture with its margins as Muse computes them (LightGBM's
    /// average_output raw scores divided by the trees, as in
    /// `FixtureExactnessTests`).
    static func fixture(_ file: String, layout: TreeEnsemble.Layout) throws -> (model: TreeEnsemble, c: Fixtures.Case) {
        let stem = file.hasSuffix(".lgb.txt") ? String(file.dropLast(4)) : String(file.dropLast(5))
        var c = try Fixtures.load(stem, modelFile: file, layout: layout)
        let model = try #require(c.model as? TreeEnsemble)
        if case .double(let divisor) = model.accumulation, divisor != 1 { c.margins = c.margins.map { $0 / divisor } }
        return (model, c)
    }

    static let files = Fixtures.lightgbm.map { "\($0).lgb.txt" } + Fixtures.xgboost.map { "\($0).xgb.json" }

    /// Scores `count` rows in calls of `size` rows, starting at row `first`
    /// (wrapping), margins and probabilities; returns the rows' indices too.
    static func batches(_ model: TreeEnsemble, rows: [Double], width: Int, size: Int, first: Int, count: Int) throws
        -> [(row: Int, margin: Double, probability: Double)] {
        let n = rows.count / width
        var result: [(Int, Double, Double)] = []
        var at = first
        while result.count < count {
            let k = min(size, count - result.count)
            var block: [Double] = []
            var indices: [Int] = []
            for j in 0..<k { let r = (at + j) % n; indices.append(r); block += rows[r * width..<(r + 1) * width] }
            var margins = [Double](repeating: .nan, count: k), probabilities = margins
            try block.withUnsafeBufferPointer { b in
                try margins.withUnsafeMutableBufferPointer { try model.margins(rows: b, into: $0) }
                try probabilities.withUnsafeMutableBufferPointer { try model.probabilities(rows: b, into: $0) }
            }
            for j in 0..<k { result.append((indices[j], margins[j], probabilities[j])) }
            at += k
        }
        return result
    }

    @Test(arguments: files, TreeEnsemble.Layout.allCases)
    func everyBatchSizeMatchesTheLibrary(_ file: String, layout: TreeEnsemble.Layout) throws {
        let (base, c) = try Self.fixture(file, layout: layout)
        let width = base.featureNames.count
        // The walk has no kernels: one pass; the bitvector layout, each kernel.
        for kernel in layout == .laneWalk ? [.auto] : Self.kernels {
            let model = base.with(batchKernel: kernel)
            #expect(model.layout == layout && model.batchLayout == layout)
            var differ = 0
            for size in 1...64 {
                for (r, m, p) in try Self.batches(model, rows: c.rows.values, width: width, size: size, first: size * 7, count: size) {
                    let same = m.bitPattern == c.margins[r].bitPattern && p.bitPattern == c.probabilities[r].bitPattern
                    if !same { differ += 1 }
                    #expect(same, "\(file) \(layout) \(kernel) size \(size) row \(r + 2): \(m) vs \(c.margins[r]), \(p) vs \(c.probabilities[r])")
                }
            }
            #expect(differ == 0)
        }
    }

    /// All the rows of each fixture in one call (blocks of eight and the
    /// remainder), per kernel.
    @Test(arguments: files)
    func wholeFixturesMatchTheLibraryWithEveryKernel(_ file: String) throws {
        let (base, c) = try Self.fixture(file, layout: .bitvector)
        for kernel in Self.kernels {
            let model = base.with(batchKernel: kernel)
            var out = [Double](repeating: .nan, count: c.rows.rowCount)
            try c.rows.values.withUnsafeBufferPointer { r in try out.withUnsafeMutableBufferPointer { try model.margins(rows: r, into: $0) } }
            let differ = (0..<out.count).filter { out[$0].bitPattern != c.margins[$0].bitPattern }
            #expect(differ.isEmpty, "\(file) \(kernel): rows \(differ.prefix(5).map { $0 + 2 }) of \(out.count) differ")
        }
    }

    /// Random trees of every rule (categorical, zero band decided one by
    /// one, NaN either way), narrow (at most 32 leaves) and wide (up to
    /// hundreds of leaves, several words a tree), float and double sums;
    /// rows with NaN, edge values and integer categories; every size 1…64.
    @Test(arguments: [false, true], [false, true])
    func randomTreesMatchTheRecursiveWalk(float: Bool, wide: Bool) throws {
        var rng = SplitMix64(seed: (float ? 1 : 0) + (wide ? 2 : 0) + 500)
        let width = 5
        for rules in [[SplitRule.numeric], [.numeric, .zeroBandMissing, .lightgbmCategory, .xgboostCategory],
                      [.numeric, .lightgbmCategory], [.numeric, .xgboostCategory]] {
            let source = TreeWalkTests.randomTrees(&rng, features: width, trees: wide ? 12 : 40, rules: rules,
                                                   maxDepth: wide ? 11 : 5, leafChance: wide ? 0.04 : 0.1,
                                                   categoryWords: wide ? 3 : 1)
            let base = try TreeEnsemble(featureNames: (0..<width).map { "x\($0)" }, trees: source, baseMargin: 0.25,
                                        accumulation: float ? .float : .double(divisor: 1),
                                        link: float ? .xgboostSigmoid : .lightgbmSigmoid(k: 1), format: "test")
                .with(layout: .bitvector)
            #expect(base.bitvector?.narrow == !wide)
            let rows = TreeWalkTests.rows(&rng, count: 200, features: width)
            let expected = rows.map { x in
                if float {
                    var sum = Float(0.25)
                    for tree in source { sum += Float(TreeWalkTests.leafValue(tree, x)) }
                    return Double(sum)
                }
                var sum = 0.0
                for tree in source { sum += TreeWalkTests.leafValue(tree, x) }
                return sum
            }
            let flat = rows.flatMap { $0 }
            for kernel in Self.kernels {
                let model = base.with(batchKernel: kernel)
                for size in 1...64 {
                    for (r, m, p) in try Self.batches(model, rows: flat, width: width, size: size, first: size * 3, count: size) {
                        #expect(m.bitPattern == expected[r].bitPattern, "rules \(rules) \(kernel) size \(size) row \(rows[r]): \(m) vs \(expected[r])")
                        #expect(p.bitPattern == model.apply(link: expected[r]).bitPattern)
                    }
                }
            }
        }
    }

    /// Every lane of two blocks (one pass over the numeric entries for
    /// both) on its own kind of value: all NaN, all one category, all past
    /// every threshold, then each lane alone different, so that one block
    /// or one lane has ranges the other lanes lack.
    @Test(arguments: kernels)
    func uniformAndLoneLanes(_ kernel: BitvectorScorer.BatchKernel) throws {
        var rng = SplitMix64(seed: 77)
        let width = 4
        let source = TreeWalkTests.randomTrees(&rng, features: width, trees: 30, rules: [.numeric, .lightgbmCategory, .xgboostCategory],
                                               maxDepth: 6, leafChance: 0.1)
        let model = try TreeEnsemble(featureNames: (0..<width).map { "x\($0)" }, trees: source, baseMargin: 0,
                                     accumulation: .double(divisor: 1), link: .lightgbmSigmoid(k: 1), format: "test")
            .with(layout: .bitvector).with(batchKernel: kernel)
        for fill in [Double.nan, 3, 1e300, -1e300, 0] {
            for lone in -1..<16 {
                var rows = [[Double]](repeating: [Double](repeating: fill, count: width), count: 16)
                if lone >= 0 { rows[lone] = [0.5, .nan, 7, -2] }
                let flat = rows.flatMap { $0 }
                var out = [Double](repeating: .nan, count: 16)
                try flat.withUnsafeBufferPointer { r in try out.withUnsafeMutableBufferPointer { try model.margins(rows: r, into: $0) } }
                for (i, x) in rows.enumerated() {
                    let expected = source.reduce(0.0) { $0 + TreeWalkTests.leafValue($1, x) }
                    #expect(out[i].bitPattern == expected.bitPattern, "\(kernel) fill \(fill) lone \(lone) lane \(i)")
                }
            }
        }
    }
}
