import Testing
@testable import MuseScoring

/// Broken and unsupported model files give errors that say what and where.
@Suite struct BadInputTests {
    func lightgbmText(_ name: String = "nan_missing") throws -> String {
        String(decoding: try Fixtures.bytes("\(name).lgb.txt"), as: UTF8.self)
    }

    func xgboostText(_ name: String = "nan_missing") throws -> String {
        String(decoding: try Fixtures.bytes("\(name).xgb.json"), as: UTF8.self)
    }

    func importError(_ text: String) -> String? {
        do {
            _ = try ModelImporter.load(Array(text.utf8))
            return nil
        } catch {
            return error.description
        }
    }

    /// Replaces the first line starting with `prefix` after line `after`.
    func replacingLine(_ text: String, prefix: String, with new: String, after: Int = 0) -> (String, Int) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let i = lines.indices.first { $0 >= after && lines[$0].hasPrefix(prefix) }!
        lines[i] = new
        return (lines.joined(separator: "\n"), i + 1)
    }

    @Test func lightgbmTruncated() throws {
        let text = try lightgbmText()
        let cut = String(text.prefix(text.count / 2))
        let message = try #require(importError(cut))
        #expect(message.contains("truncated"), "\(message)")
        #expect(message.contains("line "), "\(message)")
    }

    @Test func lightgbmCorruptedNumber() throws {
        let text = try lightgbmText()
        let tree3 = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "Tree=3" }!
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let original = lines[lines.indices.first { $0 > tree3 && lines[$0].hasPrefix("threshold=") }!]
        var items = original.dropFirst("threshold=".count).split(separator: " ").map(String.init)
        items[1] = "1.2x7"
        let (bad, line) = replacingLine(text, prefix: "threshold=", with: "threshold=" + items.joined(separator: " "), after: tree3)
        let message = try #require(importError(bad))
        #expect(message.contains("line \(line)") && message.contains("tree 3") && message.contains("'1.2x7'"), "\(message)")
    }

    @Test func lightgbmMissingNode() throws {
        let text = try lightgbmText()
        let (bad, line) = replacingLine(text, prefix: "right_child=", with: "right_child=40 -2 -3 -4 -5 -6 -7")
        let message = try #require(importError(bad))
        #expect(message.contains("line \(line)") && message.contains("tree 0") && message.contains("refers to node 40"), "\(message)")
        let (bad2, _) = replacingLine(text, prefix: "left_child=", with: "left_child=-41 -2 -3 -4 -5 -6 -7")
        let message2 = try #require(importError(bad2))
        #expect(message2.contains("refers to leaf 40 but the tree has 8 leaves"), "\(message2)")
    }

    @Test func lightgbmCycle() throws {
        let text = try lightgbmText()
        let (bad, _) = replacingLine(text, prefix: "left_child=", with: "left_child=0 -2 -3 -4 -5 -6 -7")
        let message = try #require(importError(bad))
        #expect(message.contains("tree 0") && message.contains("reached twice"), "\(message)")
    }

    @Test(arguments: [("multiclass num_class:3", "multiclass"), ("regression", "regression"),
                      ("lambdarank", "ranking"), ("huber", "regression")])
    func lightgbmUnsupportedObjective(_ objective: String, _ kind: String) throws {
        let (bad, line) = replacingLine(try lightgbmText(), prefix: "objective=", with: "objective=\(objective)")
        let message = try #require(importError(bad))
        #expect(message.contains("line \(line)") && message.contains("unsupported objective") && message.contains(kind), "\(message)")
    }

    @Test func lightgbmNotAModel() {
        #expect(importError("")!.contains("empty"))
        #expect(importError("hello")!.contains("unrecognised format"))
        #expect(importError("tree\nversion=v4\n")!.contains("num_class"))
    }

    @Test func xgboostTruncated() throws {
        let text = try xgboostText()
        let message = try #require(importError(String(text.prefix(text.count * 2 / 3))))
        #expect(message.contains("truncated") && message.contains("column"), "\(message)")
    }

    @Test func xgboostCorruptedNumber() throws {
        let text = try xgboostText()
        let bad = text.replacingOccurrences(of: "\"split_conditions\":[", with: "\"split_conditions\":[1.5.3,")
        let message = try #require(importError(bad))
        #expect(message.contains("line 1, column") && message.contains("expected ',' or ']'"), "\(message)")
        let bad2 = text.replacingOccurrences(of: "\"split_conditions\":[", with: "\"split_conditions\":[\"x\",")
        let message2 = try #require(importError(bad2))
        #expect(message2.contains("trees[0].split_conditions[0]") && message2.contains("expected a number"), "\(message2)")
    }

    @Test func xgboostMissingNode() throws {
        let text = try xgboostText()
        let bad = text.replacingOccurrences(of: "\"right_children\":[2,", with: "\"right_children\":[40,")
        #expect(bad != text)
        let message = try #require(importError(bad))
        #expect(message.contains("trees[0].right_children[0]") && message.contains("refers to node 40 but the tree has"), "\(message)")
    }

    @Test(arguments: [("multi:softprob", "multiclass"), ("reg:squarederror", "regression"), ("rank:pairwise", "ranking")])
    func xgboostUnsupportedObjective(_ objective: String, _ kind: String) throws {
        let bad = try xgboostText().replacingOccurrences(of: "\"name\":\"binary:logistic\"", with: "\"name\":\"\(objective)\"")
        let message = try #require(importError(bad))
        #expect(message.contains("learner.objective.name") && message.contains("unsupported objective '\(objective)'") && message.contains(kind), "\(message)")
    }

    @Test func logisticErrors() {
        let ok = #"{"muse_model":"logistic_regression","feature_names":["a","b"],"coefficients":[1,2],"intercept":0.5}"#
        #expect(importError(ok) == nil)
        let short = #"{"muse_model":"logistic_regression","feature_names":["a","b"],"coefficients":[1],"intercept":0.5}"#
        #expect(importError(short)!.contains("coefficients: has 1 values but feature_names has 2"))
        let noIntercept = #"{"muse_model":"logistic_regression","feature_names":[],"coefficients":[]}"#
        #expect(importError(noIntercept)!.contains("intercept"))
    }

    /// Every prefix and many single-byte corruptions of real files either load
    /// or fail with an error; none crashes, and whatever loads can be scored.
    @Test(arguments: ["nan_missing.lgb.txt", "categorical.lgb.txt", "categorical.xgb.json", "nan_missing.xgb.json"])
    func noCrashOnDamagedFiles(_ file: String) throws {
        let bytes = try Fixtures.bytes(file)
        var rng = SplitMix64(seed: 42)
        var variants: [[UInt8]] = []
        for k in 0..<60 { variants.append(Array(bytes.prefix(bytes.count * k / 60))) }
        let junk: [UInt8] = Array("-9e999x{}[]\n=,\"01".utf8)
        for _ in 0..<150 {
            var v = bytes
            v[Int(rng.next() % UInt64(v.count))] = junk[Int(rng.next() % UInt64(junk.count))]
            variants.append(v)
        }
        var failures = 0
        for v in variants {
            do {
                let model = try ModelImporter.load(v)
                let row = [Double](repeating: 0.5, count: model.featureNames.count)
                _ = try model.checkedProbability(row)
            } catch let e as ModelImportError {
                #expect(!e.message.isEmpty)
                failures += 1
            }
        }
        #expect(failures >= 60)  // at least the truncations fail
    }
}
