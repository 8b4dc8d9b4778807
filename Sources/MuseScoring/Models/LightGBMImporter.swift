/// Reads LightGBM's text model format (`Booster.save_model`, version v3/v4)
/// for binary classification.
///
/// Semantics follow LightGBM's `Tree::NumericalDecision` and
/// `Tree::CategoricalDecision` (include/LightGBM/tree.h):
/// - `decision_type` bit 0: categorical; bit 1: default (missing) goes left;
///   bits 2-3: missing type 0 None, 1 Zero, 2 NaN.
/// - None: NaN is treated as 0. Zero: NaN and |x| <= 1e-35 take the default
///   direction. NaN: NaN takes the default direction. Otherwise `x <= t` goes left.
/// - Categorical: NaN and negative values go right; `int(x)` in the split's
///   bitset (`cat_threshold[cat_boundaries[i]..<cat_boundaries[i+1]]`) goes left.
/// - Leaf values already include `shrinkage` (LightGBM multiplies them in
///   during training) and the initial score (boost_from_average folds it into
///   the first tree), so neither is applied again.
/// - The raw score is the double sum of all trees in order, divided by the
///   number of iterations when `average_output` is set (random forest), then
///   `1 / (1 + exp(-k * raw))` for `objective=binary sigmoid:k`.
public enum LightGBMImporter {
    static let format = "LightGBM"

    public static func load(_ bytes: [UInt8]) throws(ModelImportError) -> TreeEnsemble {
        var lines = TextLines(bytes)
        guard let first = lines.next() else { throw error(0, "the file is empty") }
        guard first.text == "tree" else {
            throw error(first.number, "expected the first line to be 'tree' (a LightGBM text model), found '\(first.text.prefix(40))'")
        }
        // Header: key=value lines up to the first tree.
        var header: [String: Line] = [:]
        var averageOutput = false
        var pending: Line?
        while let line = lines.next() {
            if line.text.hasPrefix("Tree=") { pending = line; break }
            if line.text == "average_output" { averageOutput = true; continue }
            if line.text == "end of trees" { pending = line; break }
            if let eq = line.text.firstIndex(of: "=") {
                header[String(line.text[..<eq])] = line
            }
        }
        func value(_ key: String) throws(ModelImportError) -> (String, Int) {
            guard let line = header[key] else { throw error(0, "header has no '\(key)=' line (file truncated or not a LightGBM model?)") }
            let text = line.text
            return (String(text[text.index(after: text.firstIndex(of: "=")!)...]), line.number)
        }
        let (numClass, numClassLine) = try value("num_class")
        let (objective, objectiveLine) = try value("objective")
        try checkObjective(objective, line: objectiveLine, numClass: numClass, numClassLine: numClassLine)
        let k = try sigmoidK(objective, line: objectiveLine)
        let (perIterText, perIterLine) = try value("num_tree_per_iteration")
        guard perIterText == "1" else {
            throw error(perIterLine, "num_tree_per_iteration=\(perIterText); only 1 (binary) is supported")
        }
        let (maxFeatureText, maxFeatureLine) = try value("max_feature_idx")
        // Bounded before `maxFeature + 1` and the name count below use it.
        guard let maxFeature = Int(maxFeatureText), maxFeature >= 0, maxFeature < ModelLimits.maxFeatures else {
            throw error(maxFeatureLine, "max_feature_idx '\(maxFeatureText.prefix(40))' is not an integer in 0...\(ModelLimits.maxFeatures - 1) (at most \(ModelLimits.maxFeatures) features)")
        }
        let (namesText, namesLine) = try value("feature_names")
        let names = namesText.split(separator: " ").map(String.init)
        guard names.count == maxFeature + 1 else {
            throw error(namesLine, "feature_names lists \(names.count) names but max_feature_idx=\(maxFeature) means \(maxFeature + 1)")
        }
        var expectedTrees: Int?
        if let sizes = header["tree_sizes"] {
            expectedTrees = sizes.text.dropFirst("tree_sizes=".count).split(separator: " ").count
        }

        // Trees: "Tree=i" then key=value lines up to a blank line.
        var trees: [SourceTree] = []
        var categoryWords = 0  // across all trees, against ModelLimits.maxCategoryWords
        var sawEnd = false
        var lastLine = pending?.number ?? 0
        while let start = pending ?? lines.next() {
            pending = nil
            lastLine = start.number
            if start.text.isEmpty { continue }
            if start.text == "end of trees" { sawEnd = true; break }
            guard start.text.hasPrefix("Tree=") else {
                throw error(start.number, "expected 'Tree=\(trees.count)' or 'end of trees', found '\(start.text.prefix(40))'")
            }
            guard Int(start.text.dropFirst(5)) == trees.count else {
                throw error(start.number, "expected 'Tree=\(trees.count)', found '\(start.text.prefix(40))'")
            }
            guard trees.count < ModelLimits.maxTrees else {
                throw error(start.number, "the model has more than \(ModelLimits.maxTrees) trees")
            }
            var fields: [String: Line] = [:]
            while let line = lines.next() {
                lastLine = line.number
                if line.text.isEmpty { break }
                if line.text.hasPrefix("Tree=") || line.text == "end of trees" { pending = line; break }
                guard let eq = line.text.firstIndex(of: "=") else {
                    throw error(line.number, "tree \(trees.count): expected key=value, found '\(line.text.prefix(40))'")
                }
                fields[String(line.text[..<eq])] = line
            }
            trees.append(try parseTree(index: trees.count, start: start.number, fields: fields, featureCount: names.count,
                                       categoryWords: &categoryWords))
        }
        guard sawEnd else {
            throw error(lastLine, "file is truncated: it ends after \(trees.count) trees without 'end of trees'")
        }
        if let expectedTrees, expectedTrees != trees.count {
            throw error(lastLine, "tree_sizes lists \(expectedTrees) trees but the file has \(trees.count)")
        }
        let divisor = averageOutput ? Double(trees.count) : 1
        return try TreeEnsemble(featureNames: names, trees: trees, baseMargin: 0,
                                accumulation: .double(divisor: divisor), link: .lightgbmSigmoid(k: k), format: format)
    }

    static func checkObjective(_ objective: String, line: Int, numClass: String, numClassLine: Int) throws(ModelImportError) {
        let name = objective.split(separator: " ").first.map(String.init) ?? ""
        guard name == "binary" else {
            let kind: String
            switch name {
            case "multiclass", "multiclassova", "softmax", "ova": kind = "multiclass"
            case "lambdarank", "rank_xendcg": kind = "ranking"
            case "": kind = "missing"
            default: kind = "regression"
            }
            throw error(line, "unsupported objective '\(name)' (\(kind)); Muse scores binary classifiers: 'binary sigmoid:K'")
        }
        guard numClass == "1" else {
            throw error(numClassLine, "num_class=\(numClass); only binary models (num_class=1) are supported")
        }
    }

    static func sigmoidK(_ objective: String, line: Int) throws(ModelImportError) -> Double {
        for token in objective.split(separator: " ") where token.hasPrefix("sigmoid:") {
            guard let k = Double(token.dropFirst(8)), k.isFinite, k > 0 else {
                throw error(line, "objective has sigmoid '\(token.dropFirst(8))', expected a positive number")
            }
            return k
        }
        throw error(line, "objective 'binary' has no sigmoid:K parameter")
    }

    /// `categoryWords` counts the bitset words of the model's categorical
    /// splits so far: each split gets its own copy, and splits may share one
    /// bitset of the file, so the total is bounded, not just the file.
    static func parseTree(index t: Int, start: Int, fields: [String: Line], featureCount: Int,
                          categoryWords: inout Int) throws(ModelImportError) -> SourceTree {
        let parser = FieldParser(tree: t, start: start, fields: fields)
        let leaves = try parser.int("num_leaves")
        guard leaves >= 1 && leaves <= ModelLimits.maxLeavesPerTree else {
            throw parser.fail("num_leaves", "num_leaves=\(leaves) is out of range: expected 1...\(ModelLimits.maxLeavesPerTree)")
        }
        let numCat = try parser.int("num_cat")
        guard numCat >= 0 && numCat < leaves else { throw parser.fail("num_cat", "num_cat=\(numCat), expected 0...\(leaves - 1) for \(leaves) leaves") }
        if let linear = fields["is_linear"], linear.text != "is_linear=0" {
            throw parser.fail("is_linear", "linear trees (is_linear=1) are not supported")
        }
        let leafValues: [Double] = try parser.array("leaf_value", count: leaves)
        if let s = fields["shrinkage"] {
            // Validated for a clear error, not applied: leaf values already include it.
            guard Double(s.text.dropFirst("shrinkage=".count)) != nil else {
                throw parser.fail("shrinkage", "shrinkage '\(s.text.dropFirst(10))' is not a number")
            }
        }
        if leaves == 1 { return SourceTree(root: .leaf(leafValues[0]), splits: []) }
        let n = leaves - 1
        let features: [Int] = try parser.array("split_feature", count: n)
        let thresholds: [Double] = try parser.array("threshold", count: n)
        let types: [Int] = try parser.array("decision_type", count: n)
        let lefts: [Int] = try parser.array("left_child", count: n)
        let rights: [Int] = try parser.array("right_child", count: n)
        var boundaries: [Int] = []
        var bits: [UInt32] = []
        if numCat > 0 {
            boundaries = try parser.array("cat_boundaries", count: numCat + 1)
            bits = try parser.array("cat_threshold", count: nil)
            for i in 0..<numCat where boundaries[i] < 0 || boundaries[i] > boundaries[i + 1] || boundaries[i + 1] > bits.count {
                throw parser.fail("cat_boundaries", "cat_boundaries[\(i)...\(i + 1)] = \(boundaries[i])...\(boundaries[i + 1]) is not a range within cat_threshold's \(bits.count) words")
            }
        }
        func child(_ c: Int, _ field: String, _ node: Int) throws(ModelImportError) -> SourceTree.Child {
            if c >= 0 {
                guard c < n else { throw parser.fail(field, "\(field) of node \(node) refers to node \(c) but the tree has \(n) split nodes") }
                return .split(c)
            }
            let leaf = ~c
            guard leaf < leaves else { throw parser.fail(field, "\(field) of node \(node) refers to leaf \(leaf) but the tree has \(leaves) leaves") }
            return .leaf(leafValues[leaf])
        }
        // Training counts, when the file has them (only to orient the bitvector layout).
        var internalCounts: [Double] = [], leafCounts: [Double] = []
        if fields["internal_count"] != nil && fields["leaf_count"] != nil {
            internalCounts = try parser.array("internal_count", count: n)
            leafCounts = try parser.array("leaf_count", count: leaves)
        }
        func share(_ l: Int, _ r: Int) -> Double {
            guard !internalCounts.isEmpty else { return .nan }
            func count(_ c: Int) -> Double { c >= 0 ? internalCounts[c] : leafCounts[~c] }  // children checked in range by `child`
            let a = count(l), b = count(r)
            return a + b > 0 ? a / (a + b) : .nan
        }
        var splits: [SourceTree.Split] = []
        splits.reserveCapacity(n)
        for i in 0..<n {
            let type = types[i]
            guard type >= 0 && type < 16 else { throw parser.fail("decision_type", "decision_type of node \(i) is \(type), expected 0...15") }
            let categorical = type & 1 != 0
            let defaultLeft = type & 2 != 0
            let missing = (type >> 2) & 3
            guard missing != 3 else { throw parser.fail("decision_type", "decision_type of node \(i) has missing type 3, expected 0 (None), 1 (Zero) or 2 (NaN)") }
            guard features[i] >= 0 && features[i] < featureCount else {
                throw parser.fail("split_feature", "split_feature of node \(i) is \(features[i]) but the model has \(featureCount) features")
            }
            let left = try child(lefts[i], "left_child", i)
            let right = try child(rights[i], "right_child", i)
            if categorical {
                let idx = thresholds[i]
                guard idx >= 0, idx < Double(numCat), idx == idx.rounded(.towardZero) else {
                    throw parser.fail("threshold", "categorical node \(i) has threshold \(idx), expected a cat_boundaries index below num_cat=\(numCat)")
                }
                let c = Int(idx)
                let words = boundaries[c + 1] - boundaries[c]
                guard words <= ModelLimits.maxCategoryWords - categoryWords else {
                    throw parser.fail("cat_boundaries", "categorical node \(i) brings the model's category bitset words past the limit of \(ModelLimits.maxCategoryWords) (\(categoryWords) so far, this split \(words))")
                }
                categoryWords += words
                splits.append(SourceTree.Split(feature: features[i], rule: .lightgbmCategory, missingGoesLeft: false,
                                               categories: Array(bits[boundaries[c]..<boundaries[c + 1]]), left: left, right: right,
                                               leftShare: share(lefts[i], rights[i])))
                continue
            }
            guard !thresholds[i].isNaN else { throw parser.fail("threshold", "threshold of node \(i) is NaN") }
            let t = canonicalThreshold(thresholds[i])
            switch missing {
            case 1:
                splits.append(.init(feature: features[i], rule: .zeroBandMissing, threshold: t, missingGoesLeft: defaultLeft, left: left, right: right,
                                    leftShare: share(lefts[i], rights[i])))
            case 2:
                splits.append(.init(feature: features[i], rule: .numeric, threshold: t, missingGoesLeft: defaultLeft, left: left, right: right,
                                    leftShare: share(lefts[i], rights[i])))
            default:  // None: NaN is scored as 0.
                splits.append(.init(feature: features[i], rule: .numeric, threshold: t, missingGoesLeft: 0 <= t, left: left, right: right,
                                    leftShare: share(lefts[i], rights[i])))
            }
        }
        return SourceTree(root: .split(0), splits: splits)
    }

    /// LightGBM's predictors drop input values with |x| <= 1e-35 (they become
    /// 0) before any tree sees them. Rather than rewrite every event, move a
    /// threshold lying in that band to where comparing the raw value gives the
    /// same side: `t` in [0, z) acts like `z`, `t` in [-z, 0) like just below `-z`.
    static func canonicalThreshold(_ t: Double) -> Double {
        let z = lightgbmZeroThreshold
        if t >= 0 && t < z { return z }
        if t >= -z && t < 0 { return (-z).nextDown }
        return t
    }

    static func error(_ line: Int, _ message: String) -> ModelImportError {
        ModelImportError(format: format, location: line > 0 ? "line \(line)" : "", message: message)
    }
}

/// Numbers of one tree's `key=value` lines, with errors naming line and tree.
struct FieldParser {
    let tree: Int
    let start: Int
    let fields: [String: Line]

    func fail(_ key: String, _ message: String) -> ModelImportError {
        let line = fields[key]?.number ?? start
        return ModelImportError(format: LightGBMImporter.format, location: "line \(line) (tree \(tree))", message: message)
    }

    func raw(_ key: String) throws(ModelImportError) -> Substring {
        guard let line = fields[key] else {
            throw ModelImportError(format: LightGBMImporter.format, location: "line \(start) (tree \(tree))",
                                   message: "tree has no '\(key)=' line (file truncated?)")
        }
        return line.text[line.text.index(after: line.text.firstIndex(of: "=")!)...]
    }

    func int(_ key: String) throws(ModelImportError) -> Int {
        let text = try raw(key)
        guard let v = Int(text) else { throw fail(key, "\(key) '\(text.prefix(40))' is not an integer") }
        return v
    }

    func array<T: LosslessStringConvertible>(_ key: String, count: Int?) throws(ModelImportError) -> [T] {
        let items = try raw(key).split(separator: " ", omittingEmptySubsequences: true)
        if let count, items.count != count {
            throw fail(key, "\(key) has \(items.count) values, expected \(count)")
        }
        var out: [T] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard let v = T(String(item)) else {
                throw fail(key, "\(key) value \(i) '\(item.prefix(40))' is not a valid \(T.self == Double.self ? "number" : "integer")")
            }
            out.append(v)
        }
        return out
    }
}

/// A line of a text file with its 1-based number (no line terminator).
struct Line {
    let number: Int
    let text: Substring
}

/// Splits bytes into lines on `\n`, dropping a trailing `\r`. Works on UTF-8
/// code units: as Characters, "\r\n" is a single grapheme.
struct TextLines: IteratorProtocol {
    private let text: String
    private var index: String.Index
    private var number = 0

    init(_ bytes: [UInt8]) {
        text = String(decoding: bytes, as: UTF8.self)
        index = text.startIndex
    }

    mutating func next() -> Line? {
        let utf8 = text.utf8
        guard index < utf8.endIndex else { return nil }
        let end = utf8[index...].firstIndex(of: UInt8(ascii: "\n")) ?? utf8.endIndex
        var stop = end
        if stop > index, utf8[utf8.index(before: stop)] == UInt8(ascii: "\r") { stop = utf8.index(before: stop) }
        let slice = text[index..<stop]
        index = end < utf8.endIndex ? utf8.index(after: end) : end
        number += 1
        return Line(number: number, text: slice)
    }
}
