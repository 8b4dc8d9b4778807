#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// A model file whose counts would overflow or exhaust memory is refused by
/// `musectl predict` with a message naming the count and a non-zero exit,
/// never a trap (the importers' bounds themselves are unit-tested).
struct ModelFileLimitTests {
    static let fixtures = Harness.packageRoot.appending(path: "Tests/MuseScoringTests/Fixtures/models")

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appending(path: name), encoding: .utf8)
    }

    /// (file name, contents, what the message must name)
    static func damagedModels() throws -> [(String, String, String)] {
        let lightgbm = try fixture("nan_missing.lgb.txt")
        var xgboost = try fixture("nan_missing.xgb.json")
        let names = #""feature_names":["f_num_0","f_num_1","f_num_2","f_num_3","f_num_4"]"#
        xgboost = xgboost.replacingOccurrences(of: names, with: #""feature_names":[]"#)
        let numFeature = try #require(xgboost.range(of: "\"num_feature\":\"5\"", options: .backwards))
        func xgboostWith(_ value: String) -> String {
            var text = xgboost
            text.replaceSubrange(numFeature, with: "\"num_feature\":\"\(value)\"")
            return text
        }
        return [
            ("max-feature.txt", lightgbm.replacingOccurrences(of: "max_feature_idx=4", with: "max_feature_idx=9223372036854775807"),
             "max_feature_idx"),
            ("num-leaves.txt", lightgbm.replacingOccurrences(of: "Tree=2\nnum_leaves=8", with: "Tree=2\nnum_leaves=9223372036854775807"),
             "num_leaves"),
            ("negative.json", xgboostWith("-1"), "num_feature"),
            ("huge.json", xgboostWith("1000000000000"), "num_feature"),
            ("intmax.json", xgboostWith("9223372036854775807"), "num_feature"),
        ]
    }

    @Test func musectlPredictRefusesCountsOutOfBounds() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rows = "\(dir)/rows.csv"
        try "f_num_0,f_num_1,f_num_2,f_num_3,f_num_4\n0.1,0.2,0.3,0.4,0.5\n".write(toFile: rows, atomically: true, encoding: .utf8)
        // The unchanged files score, so a refusal below is the damage's doing.
        for name in ["nan_missing.lgb.txt", "nan_missing.xgb.json"] {
            let scored = Harness.run(ControlSocketTests.musectl,
                                     ["predict", "--model", Self.fixtures.appending(path: name).path, "--input", rows])
            #expect(scored.status == 0 && Double(scored.output.trimmingCharacters(in: .whitespacesAndNewlines)) != nil,
                    "\(name): \(scored.output)")
        }
        for (name, text, count) in try Self.damagedModels() {
            #expect(text.count > 100)
            let path = "\(dir)/\(name)"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let refused = Harness.run(ControlSocketTests.musectl, ["predict", "--model", path, "--input", rows])
            // The command's own exit status 1; a trap would end it by a signal.
            #expect(refused.status == 1, "\(name): status \(refused.status): \(refused.output)")
            #expect(refused.output.contains(count) && refused.output.contains(path), "\(name): \(refused.output)")
        }
    }
}
