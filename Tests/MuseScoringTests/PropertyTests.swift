import Foundation
import Testing
@testable import MuseScoring

/// Properties over random models and rows rather than fixed examples.
@Suite struct PropertyTests {
    /// A random ensemble using every split rule, with NaN-heavy rows.
    static func randomEnsemble(_ rng: inout SplitMix64, features: Int, trees: Int, float: Bool) throws -> TreeEnsemble {
        var source: [SourceTree] = []
        for _ in 0..<trees {
            var splits: [SourceTree.Split] = []
            func grow(_ depth: Int, _ rng: inout SplitMix64) -> SourceTree.Child {
                if depth == 0 || Double.random(in: 0..<1, using: &rng) < 0.15 {
                    return .leaf(Double(Float(Double.random(in: -1...1, using: &rng))))
                }
                let index = splits.count
                splits.append(.init(feature: 0, rule: .numeric, missingGoesLeft: false, left: .leaf(0), right: .leaf(0)))
                let rule = [SplitRule.numeric, .numeric, .zeroBandMissing, .lightgbmCategory, .xgboostCategory].randomElement(using: &rng)!
                let left = grow(depth - 1, &rng), right = grow(depth - 1, &rng)
                splits[index] = .init(feature: Int.random(in: 0..<features, using: &rng), rule: rule,
                                      threshold: Double.random(in: -2...2, using: &rng), missingGoesLeft: Bool.random(using: &rng),
                                      categories: [UInt32.random(in: 0...UInt32.max, using: &rng)], left: left, right: right,
                                      leftShare: Double.random(in: 0...1, using: &rng))
                return .split(index)
            }
            let root = grow(6, &rng)
            source.append(SourceTree(root: root, splits: splits))
        }
        return try TreeEnsemble(featureNames: (0..<features).map { "x\($0)" }, trees: source, baseMargin: 0.25,
                                accumulation: float ? .float : .double(divisor: 1), link: float ? .xgboostSigmoid : .lightgbmSigmoid(k: 1),
                                format: "test")
    }

    static func randomRows(_ rng: inout SplitMix64, count: Int, features: Int) -> [Double] {
        (0..<count * features).map { _ in
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: return .nan
            case 1: return 0
            case 2: return Double(Int.random(in: -2...40, using: &rng))
            default: return Double.random(in: -3...3, using: &rng)
            }
        }
    }

    @Test(arguments: [false, true], TreeEnsemble.Layout.allCases)
    func batchEqualsOneByOne(float: Bool, layout: TreeEnsemble.Layout) throws {
        var rng = SplitMix64(seed: float ? 7 : 8)
        let width = 7
        let model = try Self.randomEnsemble(&rng, features: width, trees: 40, float: float).with(layout: layout)
        for count in [0, 1, 63, 64, 65, 300] {
            let rows = Self.randomRows(&rng, count: count, features: width)
            var batch = [Double](repeating: -1, count: count)
            var probs = [Double](repeating: -1, count: count)
            try rows.withUnsafeBufferPointer { r in
                try batch.withUnsafeMutableBufferPointer { try model.margins(rows: r, into: $0) }
                try probs.withUnsafeMutableBufferPointer { try model.probabilities(rows: r, into: $0) }
            }
            for i in 0..<count {
                let row = Array(rows[i * width..<(i + 1) * width])
                #expect(batch[i].bitPattern == (try model.checkedMargin(row)).bitPattern, "row \(i) of \(count)")
                #expect(probs[i].bitPattern == (try model.checkedProbability(row)).bitPattern, "row \(i) of \(count)")
            }
            // The generic (protocol default) batch agrees too.
            let generic = try LogisticModel(featureNames: model.featureNames, coefficients: [1, -2, 0.5, 0, 3, 1e-3, -1], intercept: 0.1)
            var g = [Double](repeating: 0, count: count)
            try rows.withUnsafeBufferPointer { r in try g.withUnsafeMutableBufferPointer { try generic.margins(rows: r, into: $0) } }
            for i in 0..<count { #expect(g[i] == (try generic.checkedMargin(Array(rows[i * width..<(i + 1) * width])))) }
        }
    }

    @Test(arguments: TreeEnsemble.Layout.allCases)
    func wrongFeatureCountIsReported(layout: TreeEnsemble.Layout) throws {
        var rng = SplitMix64(seed: 3)
        let model = try Self.randomEnsemble(&rng, features: 4, trees: 3, float: false).with(layout: layout)
        #expect(throws: FeatureCountError(expected: 4, actual: 3)) { try model.checkedMargin([1, 2, 3]) }
        #expect([1.0, 2, 3, 4, 5].withUnsafeBufferPointer { model.margin($0) }.isNaN)
        var out = [0.0, 0.0]
        #expect(throws: FeatureCountError.self) {
            try [1.0, 2, 3].withUnsafeBufferPointer { r in try out.withUnsafeMutableBufferPointer { try model.margins(rows: r, into: $0) } }
        }
    }

    @Test(arguments: TreeEnsemble.Layout.allCases)
    func concurrentScoringOnASharedModel(layout: TreeEnsemble.Layout) async throws {
        let c = try Fixtures.load("categorical.lgb", modelFile: "categorical.lgb.txt", layout: layout)
        let model = c.model
        let width = model.featureNames.count
        let rows = c.rows
        let expected = try (0..<rows.rowCount).map { try model.checkedProbability(rows.row($0, width: width)) }
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var bad = 0
                    for round in 0..<50 {
                        for i in 0..<rows.rowCount {
                            let j = (i + t * 13 + round) % rows.rowCount
                            let p = rows.values.withUnsafeBufferPointer {
                                model.probability(UnsafeBufferPointer(rebasing: $0[j * width..<(j + 1) * width]))
                            }
                            if p.bitPattern != expected[j].bitPattern { bad += 1 }
                        }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    /// `Float(x) < t  ⇔  x <= doubleThreshold(t)` on random and adversarial values.
    @Test func floatThresholdMatchesFloatComparison() {
        var rng = SplitMix64(seed: 99)
        var floats: [Float] = [0, -0.0, 1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .greatestFiniteMagnitude,
                               -.greatestFiniteMagnitude, .leastNormalMagnitude, .infinity, 16_777_216, 0.1, -0.1]
        for _ in 0..<2000 { floats.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))) }
        for t in floats where !t.isNaN && t != -.infinity {
            let limit = doubleThreshold(forFloatLessThan: t)
            var xs: [Double] = [Double(t), Double(t).nextUp, Double(t).nextDown, limit, limit.nextUp, limit.nextDown,
                                Double(t.nextDown), Double(t.nextUp), 0, .infinity, -.infinity]
            for _ in 0..<5 { xs.append(Double(t) * Double.random(in: 0.999...1.001, using: &rng)) }
            for x in xs where !x.isNaN {
                #expect((Float(x) < t) == (x <= limit), "t=\(t) x=\(x)")
            }
        }
    }

    /// LightGBM zeroes inputs with |x| <= 1e-35 before comparing; moving
    /// in-band thresholds must give the same side for every x.
    @Test func lightgbmZeroBandThresholds() {
        let z = lightgbmZeroThreshold
        let thresholds = [0, z, -z, z / 2, -z / 2, z.nextDown, (-z).nextUp, (-z).nextDown, z.nextUp, 1e-300, -1e-300, 1]
        let xs = [0, -0.0, z, -z, z / 3, -z / 3, z.nextUp, (-z).nextDown, 1e-300, -1e-300, 1, -1]
        for t in thresholds {
            let moved = LightGBMImporter.canonicalThreshold(t)
            for x in xs {
                let zeroed = abs(x) <= z ? 0 : x
                #expect((zeroed <= t) == (x <= moved), "t=\(t) x=\(x)")
            }
        }
    }
}
