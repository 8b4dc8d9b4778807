import Testing
@testable import MuseScoring

/// Our scores against the libraries' own predictions on the same rows.
@Suite struct FixtureExactnessTests {
    @Test(arguments: Fixtures.lightgbm)
    func lightgbmMatchesLightGBM(_ name: String) throws {
        var c = try Fixtures.load("\(name).lgb", modelFile: "\(name).lgb.txt")
        let model = try #require(c.model as? TreeEnsemble)
        if case .double(let divisor) = model.accumulation, divisor != 1 {
            // average_output (random forest): LightGBM's raw_score=True skips the
            // averaging that its probability applies; Muse's margin is the averaged
            // value the sigmoid sees, so compare with LightGBM's raw score / trees.
            #expect(divisor == Double(model.treeCount))
            c.margins = c.margins.map { $0 / divisor }
        }
        #expect(c.rows.rowCount == c.margins.count && c.rowCount > 100)
        try check(c, tolerance: 1e-12)
    }

    @Test(arguments: Fixtures.xgboost)
    func xgboostMatchesXGBoost(_ name: String) throws {
        let c = try Fixtures.load("\(name).xgb", modelFile: "\(name).xgb.json")
        #expect(c.model is TreeEnsemble)
        #expect(c.rows.rowCount == c.margins.count && c.rowCount > 100)
        try check(c, tolerance: 1e-6)
    }

    func check(_ c: Fixtures.Case, tolerance: Double) throws {
        let width = c.model.featureNames.count
        var worst = 0.0
        for i in 0..<c.rows.rowCount {
            let row = c.rows.row(i, width: width)
            let m = try c.model.checkedMargin(row)
            let p = try c.model.checkedProbability(row)
            let dm = abs(m - c.margins[i]), dp = abs(p - c.probabilities[i])
            worst = max(worst, dm, dp)
            #expect(dm <= tolerance * max(1, abs(c.margins[i])), "row \(i + 2): margin \(m) vs \(c.margins[i])")
            #expect(dp <= tolerance, "row \(i + 2): probability \(p) vs \(c.probabilities[i])")
        }
        print("max difference \(worst) over \(c.rows.rowCount) rows")
    }
}

extension Fixtures.Case {
    var rowCount: Int { rows.rowCount }
}
