import Foundation
import Testing
@testable import MuseScoring

/// Counts and indices read from a model file are bounded before any
/// arithmetic or allocation uses them: each hostile value below used to trap
/// (overflow, an inverted range, a terabyte allocation) or multiply a small
/// file into gigabytes; now each is an error naming format, place and limit.
@Suite struct ImportLimitTests {
    func loadError(_ text: String) -> ModelImportError? {
        do {
            _ = try ModelImporter.load(Array(text.utf8))
            return nil
        } catch {
            return error
        }
    }

    func fixture(_ name: String) throws -> String {
        String(decoding: try Fixtures.bytes(name), as: UTF8.self)
    }

    // MARK: LightGBM

    @Test(arguments: ["9223372036854775807", "9223372036854775806", "1048576", "-1", "99999999999999999999"])
    func lightgbmMaxFeatureIndexOutOfRange(_ value: String) throws {
        let text = try fixture("nan_missing.lgb.txt").replacingOccurrences(of: "max_feature_idx=4", with: "max_feature_idx=\(value)")
        let error = try #require(loadError(text))
        #expect(error.format == "LightGBM")
        #expect(error.location == "line 6", "\(error)")
        #expect(error.message.contains("max_feature_idx") && error.message.contains("1048575"), "\(error)")
    }

    @Test(arguments: ["9223372036854775807", "1048577", "-5"])
    func lightgbmNumLeavesOutOfRange(_ value: String) throws {
        let text = try fixture("nan_missing.lgb.txt").replacingOccurrences(of: "Tree=2\nnum_leaves=8", with: "Tree=2\nnum_leaves=\(value)")
        let error = try #require(loadError(text))
        #expect(error.location.contains("tree 2"), "\(error)")
        #expect(error.message.contains("num_leaves") && error.message.contains("1048576"), "\(error)")
    }

    /// A small file whose categorical splits all share one large bitset: each
    /// split used to copy it, so memory grew with splits × bitset size.
    @Test func lightgbmSharedBitsetIsBounded() throws {
        let words = 70_000, leaves = 64
        let n = leaves - 1
        func list(_ f: (Int) -> String) -> String { (0..<n).map(f).joined(separator: " ") }
        let tree = """
            Tree=0
            num_leaves=\(leaves)
            num_cat=1
            split_feature=\(list { _ in "0" })
            threshold=\(list { _ in "0" })
            decision_type=\(list { _ in "1" })
            left_child=\(list { "\(~$0)" })
            right_child=\(list { $0 + 1 < n ? "\($0 + 1)" : "\(~n)" })
            leaf_value=\((0..<leaves).map { "\(Double($0) / 100)" }.joined(separator: " "))
            cat_boundaries=0 \(words)
            cat_threshold=\([String](repeating: "4294967295", count: words).joined(separator: " "))
            shrinkage=1


            """
        let text = LightGBMText.header(features: 1) + tree + "end of trees\n"
        let error = try #require(loadError(text))
        #expect(error.message.contains("category bitset words") && error.message.contains("\(ModelLimits.maxCategoryWords)"), "\(error)")
    }

    // MARK: XGBoost

    /// The learner's own `num_feature` (the last in the file: keys are sorted),
    /// with `feature_names` emptied so the importer must make up names.
    func xgboost(numFeature: String) throws -> String {
        var text = try fixture("nan_missing.xgb.json")
        let key = "\"num_feature\":\"5\""
        let last = try #require(text.range(of: key, options: .backwards))
        text.replaceSubrange(last, with: "\"num_feature\":\"\(numFeature)\"")
        let names = try #require(text.range(of: #""feature_names":["f_num_0","f_num_1","f_num_2","f_num_3","f_num_4"]"#))
        text.replaceSubrange(names, with: #""feature_names":[]"#)
        return text
    }

    @Test(arguments: ["-1", "1000000000000", "9223372036854775807", "1048577", "-9223372036854775808"])
    func xgboostNumFeatureOutOfRange(_ value: String) throws {
        let error = try #require(loadError(try xgboost(numFeature: value)))
        #expect(error.format == "XGBoost")
        #expect(error.location == "learner.learner_model_param.num_feature", "\(error)")
        #expect(error.message.contains("1048576") && error.message.contains(value), "\(error)")
    }

    @Test func xgboostEmptyNamesStillWork() throws {
        let model = try ModelImporter.load(Array(try xgboost(numFeature: "5").utf8))
        #expect(model.featureNames == ["f0", "f1", "f2", "f3", "f4"])
    }

    /// `categories_segments` near Int.max used to wrap `segment + size`
    /// negative, pass the bounds check, and trap on an inverted range.
    @Test(arguments: [("9223372036854775807", "1"), ("9223372036854775800", "100"), ("3", "9223372036854775807"), ("-1", "2")])
    func xgboostCategorySegmentOutOfRange(_ segment: String, _ size: String) throws {
        let text = try fixture("categorical.xgb.json")
            .replacingOccurrences(of: #""categories_segments":[0,8,17,25]"#, with: "\"categories_segments\":[\(segment),8,17,25]")
            .replacingOccurrences(of: #""categories_sizes":[8,9,8,8]"#, with: "\"categories_sizes\":[\(size),9,8,8]")
        let error = try #require(loadError(text))
        #expect(error.location == "learner.gradient_booster.model.trees[0].categories_segments[0]", "\(error)")
        #expect(error.message.contains("outside"), "\(error)")
    }

    /// Many nodes naming one segment with the largest category: each used to
    /// get its own 2 MiB bitset.
    @Test func xgboostSharedLargeCategoryIsBounded() throws {
        let count = 40
        let nodes = [String](repeating: "3", count: count).joined(separator: ",")
        let zeros = [String](repeating: "0", count: count).joined(separator: ",")
        let ones = [String](repeating: "1", count: count).joined(separator: ",")
        let text = try fixture("categorical.xgb.json")
            .replacingOccurrences(of: #""categories":[0,2,4,6,8,9,10,11,"#, with: #""categories":[16777215,2,4,6,8,9,10,11,"#)
            .replacingOccurrences(of: #""categories_nodes":[3,4,5,6]"#, with: "\"categories_nodes\":[\(nodes),4,5,6]")
            .replacingOccurrences(of: #""categories_segments":[0,8,17,25]"#, with: "\"categories_segments\":[\(zeros),8,17,25]")
            .replacingOccurrences(of: #""categories_sizes":[8,9,8,8]"#, with: "\"categories_sizes\":[\(ones),9,8,8]")
        let error = try #require(loadError(text))
        #expect(error.message.contains("category bitset words") && error.message.contains("\(ModelLimits.maxCategoryWords)"), "\(error)")
    }

    // MARK: Logistic

    @Test func logisticFeatureCountIsBounded() throws {
        let count = ModelLimits.maxFeatures + 1
        let names = [String](repeating: "\"\"", count: count).joined(separator: ",")
        let coefficients = [String](repeating: "0", count: count).joined(separator: ",")
        let json = "{\"muse_model\":\"logistic_regression\",\"feature_names\":[\(names)],\"coefficients\":[\(coefficients)],\"intercept\":0}"
        let error = try #require(loadError(json))
        #expect(error.location == "feature_names" && error.message.contains("\(ModelLimits.maxFeatures)"), "\(error)")
    }
}

/// Hand-made LightGBM text models for tests that need a shape no fixture has.
enum LightGBMText {
    static func header(features: Int) -> String {
        """
        tree
        version=v4
        num_class=1
        num_tree_per_iteration=1
        label_index=0
        max_feature_idx=\(features - 1)
        objective=binary sigmoid:1
        feature_names=\((0..<features).map { "f\($0)" }.joined(separator: " "))


        """
    }
}

/// JSON nesting is bounded, so a hostile file cannot exhaust the stack of
/// whatever thread imports it.
@Suite struct JSONDepthTests {
    @Test func nestingIsLimited() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        _ = try JSONParser.parse(Array(ok.utf8))
        let deep = String(repeating: "[{\"a\":", count: 50_000)
        #expect { try JSONParser.parse(Array(deep.utf8)) } throws: {
            ($0 as? JSONSyntaxError)?.message.contains("nesting deeper than \(JSONParser.maxDepth)") == true
        }
        let error = try #require(ImportLimitTests().loadError("{\"learner\":" + deep))
        #expect(error.format == "XGBoost" && error.location.hasPrefix("line 1, column "), "\(error)")
    }
}
