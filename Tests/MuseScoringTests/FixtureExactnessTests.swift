import Testing
@testable import MuseScoring

/// Our scores against the libraries' own predictions on the same rows, bit
/// for bit: the README promises the library's exact double, so a tolerance
/// would hide the one-ulp differences (a sum in another order, a float
/// conversion too many) this suite exists to catch.
@Suite struct FixtureExactnessTests {
    @Test(arguments: Fixtures.lightgbm, TreeEnsemble.Layout.allCases)
    func lightgbmMatchesLightGBM(_ name: String, layout: TreeEnsemble.Layout) throws {
        var c = try Fixtures.load("\(name).lgb", modelFile: "\(name).lgb.txt", layout: layout)
        let model = try #require(c.model as? TreeEnsemble)
        #expect(model.layout == layout)
        if case .double(let divisor) = model.accumulation, divisor != 1 {
            // average_output (random forest): LightGBM's raw_score=True skips the
            // averaging that its probability applies; Muse's margin is the averaged
            // value the sigmoid sees, so compare with LightGBM's raw score / trees.
            #expect(divisor == Double(model.treeCount))
            c.margins = c.margins.map { $0 / divisor }
        }
        #expect(c.rows.rowCount == c.margins.count && c.rowCount > 100)
        try check(c)
    }

    @Test(arguments: Fixtures.xgboost, TreeEnsemble.Layout.allCases)
    func xgboostMatchesXGBoost(_ name: String, layout: TreeEnsemble.Layout) throws {
        let c = try Fixtures.load("\(name).xgb", modelFile: "\(name).xgb.json", layout: layout)
        #expect((c.model as? TreeEnsemble)?.layout == layout)
        #expect(c.rows.rowCount == c.margins.count && c.rowCount > 100)
        try check(c)
    }

    func check(_ c: Fixtures.Case) throws {
        let width = c.model.featureNames.count
        var mismatches = 0
        for i in 0..<c.rows.rowCount {
            let row = c.rows.row(i, width: width)
            let m = try c.model.checkedMargin(row)
            let p = try c.model.checkedProbability(row)
            // Bit patterns, not ==: == would also accept -0.0 for 0.0.
            let same = m.bitPattern == c.margins[i].bitPattern && p.bitPattern == c.probabilities[i].bitPattern
            if !same { mismatches += 1 }
            #expect(m.bitPattern == c.margins[i].bitPattern, "row \(i + 2): margin \(m) vs \(c.margins[i])")
            #expect(p.bitPattern == c.probabilities[i].bitPattern, "row \(i + 2): probability \(p) vs \(c.probabilities[i])")
        }
        // The batch path too, row for row.
        var batch = [Double](repeating: .nan, count: c.rows.rowCount)
        try c.rows.values.withUnsafeBufferPointer { r in try batch.withUnsafeMutableBufferPointer { try c.model.margins(rows: r, into: $0) } }
        for i in 0..<c.rows.rowCount {
            #expect(batch[i].bitPattern == c.margins[i].bitPattern, "row \(i + 2): batch margin \(batch[i]) vs \(c.margins[i])")
        }
        print("\(mismatches) of \(c.rows.rowCount) rows differ in any bit")
    }
}

extension Fixtures.Case {
    var rowCount: Int { rows.rowCount }
}
