import Foundation
import Testing
@testable import MuseScoring

@Suite struct LogisticModelTests {
    @Test func scoresTheDocumentedFormula() throws {
        let json = #"{"muse_model": "logistic_regression", "feature_names": ["amount", "hour", "risk"], "coefficients": [0.5, -0.25, 2e-1], "intercept": -1.5}"#
        let model = try #require(try ModelImporter.load(Array(json.utf8)) as? LogisticModel)
        #expect(model.featureNames == ["amount", "hour", "risk"])
        let m = try model.checkedMargin([2, 4, .nan])  // NaN contributes nothing
        #expect(m == -1.5 + 0.5 * 2 + -0.25 * 4)
        #expect(try model.checkedProbability([2, 4, 10]) == 1 / (1 + exp(-(-1.5 + 1 - 1 + 2))))
    }

    @Test func csvColumnsAreMatchedByName() throws {
        let csv = "risk,unused, \"amount\" ,hour\n1,x,2,3\n,,nan,NaN\n"
        let rows = try FeatureCSV(Array(csv.utf8), featureNames: ["amount", "hour", "risk"])
        #expect(rows.rowCount == 2)
        #expect(Array(rows.values[0..<3]) == [2, 3, 1])
        #expect(rows.values[3...].allSatisfy { $0.isNaN })
        #expect(throws: FeatureCSV.ParseError.self) { try FeatureCSV(Array("amount,hour\n1,2\n".utf8), featureNames: ["amount", "hour", "risk"]) }
        do {
            _ = try FeatureCSV(Array("amount,hour,risk\n1,2,3\n1,zz,3\n".utf8), featureNames: ["amount", "hour", "risk"])
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "line 3: column 'hour': 'zz' is not a number")
        }
    }
}
