import Testing
@testable import MuseScoring

/// The flattened walk (lanes, negated features for missing-left splits, NaN
/// slots for leaves) against a plain recursive walk of the source trees that
/// applies each rule as `SplitRule` documents it, summed in tree order.
@Suite struct TreeWalkTests {
    /// Thresholds that stress the missing-left rewriting `-x <= (-t).nextDown`.
    static let edgeThresholds: [Double] = [0, -0.0, 1, -1, .infinity, -.infinity, .greatestFiniteMagnitude,
                                           -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                                           0.5, -0.5, 1e-35, .nan]

    /// `leafChance` is the chance a node above the depth limit is a leaf;
    /// small values grow trees of hundreds of leaves (several bitvector words).
    static func randomTrees(_ rng: inout SplitMix64, features: Int, trees: Int, rules: [SplitRule],
                            maxDepth: Int = 9, leafChance: Double = 0.25, categoryWords: Int = 1) -> [SourceTree] {
        (0..<trees).map { _ in
            var splits: [SourceTree.Split] = []
            func grow(_ depth: Int, _ rng: inout SplitMix64) -> SourceTree.Child {
                if depth == 0 || Double.random(in: 0..<1, using: &rng) < leafChance {
                    return .leaf(Double(Float(Double.random(in: -1...1, using: &rng))))
                }
                let index = splits.count
                splits.append(.init(feature: 0, rule: .numeric, missingGoesLeft: false, left: .leaf(0), right: .leaf(0)))
                let left = grow(depth - 1, &rng), right = grow(depth - 1, &rng)
                let threshold = Bool.random(using: &rng) ? edgeThresholds.randomElement(using: &rng)!
                                                         : Double.random(in: -2...2, using: &rng)
                splits[index] = .init(feature: Int.random(in: 0..<features, using: &rng), rule: rules.randomElement(using: &rng)!,
                                      threshold: threshold, missingGoesLeft: Bool.random(using: &rng),
                                      categories: categoryWords == 1 ? [UInt32.random(in: 0...UInt32.max, using: &rng)]
                                          : (0..<Int.random(in: 0...categoryWords, using: &rng)).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) },
                                      left: left, right: right,
                                      // Training shares orient the bitvector layout: known or not, either side likelier.
                                      leftShare: Bool.random(using: &rng) ? .nan : Double.random(in: 0...1, using: &rng))
                return .split(index)
            }
            let root = grow(Int.random(in: 0...maxDepth, using: &rng), &rng)
            return SourceTree(root: root, splits: splits)
        }
    }

    static func goesLeft(_ s: SourceTree.Split, _ v: Double) -> Bool {
        switch s.rule {
        case .numeric:
            return v.isNaN ? s.missingGoesLeft : v <= s.threshold
        case .zeroBandMissing:
            if v.isNaN || abs(v) <= lightgbmZeroThreshold { return s.missingGoesLeft }
            return v <= s.threshold
        case .lightgbmCategory:
            guard !v.isNaN && v > -1 && v < 2147483648.0 else { return false }
            let c = Int(v)
            return c / 32 < s.categories.count && s.categories[c / 32] >> UInt32(c % 32) & 1 == 1
        case .xgboostCategory:
            if v.isNaN { return s.missingGoesLeft }
            let f = Float(v)
            guard f >= 0 && f < 16_777_216 else { return true }
            let c = Int(f)
            return !(c / 32 < s.categories.count && s.categories[c / 32] >> UInt32(c % 32) & 1 == 1)
        }
    }

    static func leafValue(_ tree: SourceTree, _ x: [Double]) -> Double {
        var node = tree.root
        while case .split(let i) = node {
            let s = tree.splits[i]
            node = goesLeft(s, x[s.feature]) ? s.left : s.right
        }
        guard case .leaf(let value) = node else { fatalError() }
        return value
    }

    static func rows(_ rng: inout SplitMix64, count: Int, features: Int) -> [[Double]] {
        let specials = edgeThresholds + edgeThresholds.map { $0.nextUp } + edgeThresholds.map { $0.nextDown }
        return (0..<count).map { _ in
            (0..<features).map { _ in
                switch Int.random(in: 0..<8, using: &rng) {
                case 0: return .nan
                case 1, 2: return specials.randomElement(using: &rng)!
                case 3: return Double(Int.random(in: -2...40, using: &rng))
                default: return Double.random(in: -3...3, using: &rng)
                }
            }
        }
    }

    @Test(arguments: [false, true], [1, 3, 8, 9, 17, 64])
    func walkMatchesRecursiveWalk(float: Bool, trees: Int) throws {
        for layout in TreeEnsemble.Layout.allCases {
            var rng = SplitMix64(seed: UInt64(trees) * 2 + (float ? 1 : 0))
            try Self.check(&rng, float: float, trees: trees, layout: layout)
        }
    }

    /// Trees of up to a few hundred leaves (bitvectors of several words), categories past the first word.
    @Test(arguments: [false, true], TreeEnsemble.Layout.allCases)
    func bigTreesMatchRecursiveWalk(float: Bool, layout: TreeEnsemble.Layout) throws {
        var rng = SplitMix64(seed: float ? 41 : 42)
        try Self.check(&rng, float: float, trees: 12, layout: layout, maxDepth: 11, leafChance: 0.04, categoryWords: 3,
                       narrow: layout == .bitvector ? false : nil)
    }

    /// Trees of at most 32 leaves (depth 5) take the bitvector's narrow form
    /// (32-bit words, packed entries); it too matches the recursive walk.
    @Test(arguments: [false, true], [1, 9, 64, 300])
    func narrowBitvectorMatchesRecursiveWalk(float: Bool, trees: Int) throws {
        var rng = SplitMix64(seed: UInt64(trees) * 2 + (float ? 1 : 0) + 1000)
        try Self.check(&rng, float: float, trees: trees, layout: .bitvector, maxDepth: 5, leafChance: 0.1, narrow: true)
    }

    static func check(_ rng: inout SplitMix64, float: Bool, trees: Int, layout: TreeEnsemble.Layout,
                      maxDepth: Int = 9, leafChance: Double = 0.25, categoryWords: Int = 1, narrow: Bool? = nil) throws {
        let width = 5
        for rules in [[SplitRule.numeric], [.numeric, .zeroBandMissing, .lightgbmCategory, .xgboostCategory],
                      [.numeric, .lightgbmCategory], [.numeric, .xgboostCategory]] {
            let source = Self.randomTrees(&rng, features: width, trees: trees, rules: rules, maxDepth: maxDepth,
                                          leafChance: leafChance, categoryWords: categoryWords)
            let model = try TreeEnsemble(featureNames: (0..<width).map { "x\($0)" }, trees: source, baseMargin: 0.25,
                                         accumulation: float ? .float : .double(divisor: 1),
                                         link: float ? .xgboostSigmoid : .lightgbmSigmoid(k: 1), format: "test").with(layout: layout)
            #expect(model.layout == layout)
            if let narrow { #expect(model.bitvector?.narrow == narrow) }
            for x in Self.rows(&rng, count: 300, features: width) {
                let expected: Double
                if float {
                    var sum = Float(0.25)
                    for tree in source { sum += Float(Self.leafValue(tree, x)) }
                    expected = Double(sum)
                } else {
                    var sum = 0.0
                    for tree in source { sum += Self.leafValue(tree, x) }
                    expected = sum
                }
                let got = try model.checkedMargin(x)
                #expect(got.bitPattern == expected.bitPattern, "rules \(rules) row \(x): \(got) vs \(expected)")
            }
        }
    }
}
