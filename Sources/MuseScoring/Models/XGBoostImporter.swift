import Foundation

/// Reads XGBoost's JSON model (`Booster.save_model("m.json")`, 2.x and 3.x),
/// or the same document in UBJSON (`save_model("m.ubj")` or any other name)
/// for `binary:logistic` and `binary:logitraw` gbtree models.
///
/// Semantics follow XGBoost's CPU predictor (`GetNextNode`, `common::Decision`,
/// regression_loss.h):
/// - Features are converted to float32; NaN is missing and takes
///   `default_left`. A numerical split goes left when `Float(x) < split_condition`
///   (converted once at import into an exact double `<=`; see `doubleThreshold`).
/// - A categorical split goes right when `Int(Float(x))` is one of the node's
///   `categories`, left otherwise, and left for invalid categories (negative
///   or >= 2^24).
/// - Leaves hold their value in `split_conditions`. The margin is a float sum
///   starting at the base margin, trees in order.
/// - `base_score` is stored in probability space ("5E-1" in 2.x, "[5E-1]" in
///   3.x). For binary:logistic the base margin is `-logf(1/b - 1)` in float,
///   with `b` clamped to [1e-6, 1 - 1e-6] from 3.2 on; for binary:logitraw it
///   is `b` itself.
public enum XGBoostImporter {
    static let format = "XGBoost"

    public static func load(_ bytes: [UInt8]) throws(ModelImportError) -> TreeEnsemble {
        let doc: JSONValue
        if UBJSONParser.looksLikeUBJSON(bytes) {
            do { doc = try UBJSONParser.parse(bytes) } catch {
                throw ModelImportError(format: "\(format) UBJSON", location: "byte \(error.offset)", message: error.message)
            }
            return try load(doc)
        }
        do { doc = try JSONParser.parse(bytes) } catch {
            throw ModelImportError(format: format, location: "line \(error.line), column \(error.column)", message: error.message)
        }
        return try load(doc)
    }

    public static func load(_ doc: JSONValue) throws(ModelImportError) -> TreeEnsemble {
        let r = Reader(doc)
        let version = try r.array("version").map { v throws(ModelImportError) in try r.int(v, "version[]") }
        guard version.count >= 2 else { throw fail("version", "expected [major, minor, patch], found \(version)") }
        let learner = try r.object("learner")
        let objective = try r.string(r.at(learner, "objective", path: "learner")["name"], "learner.objective.name")
        let logitraw: Bool
        switch objective {
        case "binary:logistic": logitraw = false
        case "binary:logitraw": logitraw = true
        default:
            let kind = objective.hasPrefix("multi:") ? "multiclass" : objective.hasPrefix("rank:") ? "ranking"
                : objective.hasPrefix("reg:") || objective.hasPrefix("count:") || objective.hasPrefix("survival:") ? "regression" : "other"
            throw fail("learner.objective.name", "unsupported objective '\(objective)' (\(kind)); Muse scores binary classifiers: binary:logistic or binary:logitraw")
        }
        let param = try r.at(learner, "learner_model_param", path: "learner")
        let numFeature = try r.int(r.at(param, "num_feature", path: "learner.learner_model_param"), "learner.learner_model_param.num_feature")
        // Bounded before it sizes the default name list below.
        guard numFeature >= 0 && numFeature <= ModelLimits.maxFeatures else {
            throw fail("learner.learner_model_param.num_feature", "num_feature \(numFeature) is out of range: expected 0...\(ModelLimits.maxFeatures)")
        }
        for key in ["num_class", "num_target"] {
            if let v = param[key], let n = Int(try r.string(v, "learner.learner_model_param.\(key)")), n > 1 {
                throw fail("learner.learner_model_param.\(key)", "\(key)=\(n); only single-output binary models are supported")
            }
        }
        let baseMargin = try Self.baseMargin(try r.string(r.at(param, "base_score", path: "learner.learner_model_param"),
                                                          "learner.learner_model_param.base_score"),
                                             logitraw: logitraw, version: (version[0], version[1]))
        var names: [String] = []
        if let n = learner["feature_names"], case .array(let items) = n, !items.isEmpty {
            names = try items.enumerated().map { (i, v) throws(ModelImportError) in try r.string(v, "learner.feature_names[\(i)]") }
        } else {
            names = (0..<numFeature).map { "f\($0)" }  // XGBoost's own default names
        }
        guard names.count == numFeature else {
            throw fail("learner.feature_names", "lists \(names.count) names but num_feature is \(numFeature)")
        }
        let booster = try r.at(learner, "gradient_booster", path: "learner")
        let boosterName = try r.string(r.at(booster, "name", path: "learner.gradient_booster"), "learner.gradient_booster.name")
        guard boosterName == "gbtree" else {
            throw fail("learner.gradient_booster.name", "booster '\(boosterName)' is not supported; only gbtree")
        }
        let model = try r.at(booster, "model", path: "learner.gradient_booster")
        if let cats = model["cats"], let enc = cats["enc"], case .array(let e) = enc, !e.isEmpty {
            throw fail("learner.gradient_booster.model.cats.enc", "the model re-codes string categories; only integer-coded categories are supported")
        }
        guard let treesValue = model["trees"], case .array(let trees) = treesValue else {
            throw fail("learner.gradient_booster.model.trees", "missing or not an array (file truncated?)")
        }
        if let info = model["tree_info"], case .array(let groups) = info {
            for (i, g) in groups.enumerated() where try r.int(g, "tree_info[\(i)]") != 0 {
                throw fail("learner.gradient_booster.model.tree_info[\(i)]", "tree belongs to output group \(g); only one output is supported")
            }
        }
        guard trees.count <= ModelLimits.maxTrees else {
            throw fail("learner.gradient_booster.model.trees", "the model has \(trees.count) trees, more than the limit of \(ModelLimits.maxTrees)")
        }
        var source: [SourceTree] = []
        source.reserveCapacity(trees.count)
        var categoryWords = 0  // across all trees, against ModelLimits.maxCategoryWords
        for (t, tree) in trees.enumerated() {
            source.append(try parseTree(tree, path: "learner.gradient_booster.model.trees[\(t)]", reader: r, categoryWords: &categoryWords))
        }
        return try TreeEnsemble(featureNames: names, trees: source, baseMargin: baseMargin, accumulation: .float,
                                link: logitraw ? .logistic : .xgboostSigmoid, format: format)
    }

    static func baseMargin(_ text: String, logitraw: Bool, version: (Int, Int)) throws(ModelImportError) -> Double {
        let path = "learner.learner_model_param.base_score"
        var body = Substring(text)
        if body.hasPrefix("[") && body.hasSuffix("]") { body = body.dropFirst().dropLast() }
        let parts = body.split(separator: ",")
        guard parts.count == 1, var b = Float(String(parts[0]).trimmingSpaces) else {
            throw fail(path, "'\(text)' is not a single number")
        }
        if logitraw { return Double(b) }
        if version >= (3, 2) {
            b = min(max(b, 1e-6), 1 - 1e-6)
        } else {
            guard b > 0 && b < 1 else { throw fail(path, "\(b) is not in (0, 1) as binary:logistic requires") }
        }
        return Double(-logf(1 / b - 1))
    }

    /// `categoryWords` counts the bitset words of the model's categorical
    /// nodes so far: a node's bitset is sized by its largest category, not by
    /// the file (one category 2^24 − 1 is 2^19 words), and many nodes may name
    /// the same segment, so the total is bounded.
    static func parseTree(_ tree: JSONValue, path: String, reader r: Reader, categoryWords: inout Int) throws(ModelImportError) -> SourceTree {
        func ints(_ key: String) throws(ModelImportError) -> [Int] {
            try r.array(r.at(tree, key, path: path), "\(path).\(key)").enumerated().map { (i, v) throws(ModelImportError) in
                try r.int(v, "\(path).\(key)[\(i)]")
            }
        }
        func floats(_ key: String) throws(ModelImportError) -> [Float] {
            try r.array(r.at(tree, key, path: path), "\(path).\(key)").enumerated().map { (i, v) throws(ModelImportError) in
                try r.float(v, "\(path).\(key)[\(i)]")
            }
        }
        if let p = tree["tree_param"], let s = p["size_leaf_vector"], let n = Int(try r.string(s, "\(path).tree_param.size_leaf_vector")), n > 1 {
            throw fail("\(path).tree_param.size_leaf_vector", "vector leaves (\(n)) are not supported")
        }
        let lefts = try ints("left_children")
        let rights = try ints("right_children")
        let features = try ints("split_indices")
        let conditions = try floats("split_conditions")
        let defaults = try ints("default_left")
        let n = lefts.count
        guard n > 0 else { throw fail("\(path).left_children", "the tree has no nodes") }
        guard n <= ModelLimits.maxNodesPerTree else {
            throw fail("\(path).left_children", "the tree has \(n) nodes, more than the limit of \(ModelLimits.maxNodesPerTree)")
        }
        for (key, count) in [("right_children", rights.count), ("split_indices", features.count),
                             ("split_conditions", conditions.count), ("default_left", defaults.count)] where count != n {
            throw fail("\(path).\(key)", "has \(count) entries but left_children has \(n)")
        }
        if let p = tree["tree_param"], let s = p["num_nodes"], let declared = Int(try r.string(s, "\(path).tree_param.num_nodes")), declared != n {
            throw fail("\(path).tree_param.num_nodes", "says \(declared) nodes but the arrays have \(n) (file truncated?)")
        }
        var types = [Int](repeating: 0, count: n)
        var categoriesOf: [Int: [UInt32]] = [:]
        if tree["split_type"] != nil {
            types = try ints("split_type")
            guard types.count == n else { throw fail("\(path).split_type", "has \(types.count) entries but left_children has \(n)") }
            if types.contains(1) {
                let nodes = try ints("categories_nodes"), segments = try ints("categories_segments")
                let sizes = try ints("categories_sizes"), cats = try ints("categories")
                guard nodes.count == segments.count, nodes.count == sizes.count else {
                    throw fail("\(path).categories_nodes", "categories_nodes, categories_segments and categories_sizes differ in length")
                }
                for (k, node) in nodes.enumerated() {
                    // Compared without adding: segment + size may overflow.
                    let lo = segments[k], size = sizes[k]
                    guard node >= 0, node < n, lo >= 0, size >= 0, lo <= cats.count, size <= cats.count - lo else {
                        throw fail("\(path).categories_segments[\(k)]", "node \(node), categories from \(lo), \(size) of them, is outside the tree (\(n) nodes) or the categories array (\(cats.count))")
                    }
                    var largest = -1
                    for c in cats[lo..<(lo + size)] {
                        guard c >= 0 && c < 16_777_216 else { throw fail("\(path).categories", "category \(c) of node \(node) is not in 0..<2^24") }
                        largest = max(largest, c)
                    }
                    let words = largest < 0 ? 0 : (largest >> 5) + 1
                    guard words <= ModelLimits.maxCategoryWords - categoryWords else {
                        throw fail("\(path).categories_nodes[\(k)]", "categorical node \(node) brings the model's category bitset words past the limit of \(ModelLimits.maxCategoryWords) (\(categoryWords) so far, this node \(words))")
                    }
                    categoryWords += words
                    var bits = [UInt32](repeating: 0, count: words)
                    for c in cats[lo..<(lo + size)] { bits[c >> 5] |= 1 << UInt32(c & 31) }
                    categoriesOf[node] = bits
                }
            }
        }
        func child(_ c: Int, _ key: String, _ node: Int) throws(ModelImportError) -> SourceTree.Child {
            guard c > 0 && c < n else { throw fail("\(path).\(key)[\(node)]", "node \(node) refers to node \(c) but the tree has \(n) nodes") }
            return lefts[c] == -1 ? .leaf(Double(conditions[c])) : .split(c)
        }
        guard lefts[0] != -1 else { return SourceTree(root: .leaf(Double(conditions[0])), splits: []) }
        // Splits keep XGBoost's node ids; leaf slots stay placeholders never referenced.
        // Hessian sums (cover), when present: only to orient the bitvector layout.
        var hessians: [Float] = []
        if tree["sum_hessian"] != nil, let h = try? floats("sum_hessian"), h.count == n { hessians = h }
        func share(_ l: Int, _ r: Int) -> Double {
            guard !hessians.isEmpty else { return .nan }
            let a = Double(hessians[l]), b = Double(hessians[r])
            return a + b > 0 ? a / (a + b) : .nan
        }
        var splits: [SourceTree.Split] = []
        splits.reserveCapacity(n)
        for i in 0..<n {
            guard lefts[i] != -1 else {
                splits.append(.init(feature: 0, rule: .numeric, missingGoesLeft: false, left: .leaf(0), right: .leaf(0)))
                continue
            }
            let left = try child(lefts[i], "left_children", i)
            let right = try child(rights[i], "right_children", i)
            guard features[i] >= 0 else { throw fail("\(path).split_indices[\(i)]", "feature index \(features[i]) is negative") }
            let missingLeft = defaults[i] != 0
            switch types[i] {
            case 0:
                let t = conditions[i]
                guard t.isFinite else { throw fail("\(path).split_conditions[\(i)]", "split condition \(t) is not finite") }
                splits.append(.init(feature: features[i], rule: .numeric, threshold: doubleThreshold(forFloatLessThan: t),
                                    missingGoesLeft: missingLeft, left: left, right: right, leftShare: share(lefts[i], rights[i])))
            case 1:
                guard let bits = categoriesOf[i] else { throw fail("\(path).categories_nodes", "categorical node \(i) has no categories") }
                splits.append(.init(feature: features[i], rule: .xgboostCategory, missingGoesLeft: missingLeft,
                                    categories: bits, left: left, right: right, leftShare: share(lefts[i], rights[i])))
            default:
                throw fail("\(path).split_type[\(i)]", "split type \(types[i]) is neither 0 (numerical) nor 1 (categorical)")
            }
        }
        return SourceTree(root: .split(0), splits: splits)
    }

    static func fail(_ path: String, _ message: String) -> ModelImportError {
        ModelImportError(format: format, location: path, message: message)
    }

    /// Typed access to the JSON tree with errors naming the JSON path.
    struct Reader {
        let root: JSONValue
        init(_ root: JSONValue) { self.root = root }

        func object(_ key: String) throws(ModelImportError) -> JSONValue {
            try at(root, key, path: "")
        }
        func at(_ v: JSONValue, _ key: String, path: String) throws(ModelImportError) -> JSONValue {
            let full = path.isEmpty ? key : "\(path).\(key)"
            guard case .object(let o) = v else { throw fail(path.isEmpty ? "(top level)" : path, "expected an object") }
            guard let x = o[key] else { throw fail(full, "missing (not an XGBoost JSON model, or truncated?)") }
            return x
        }
        func array(_ key: String) throws(ModelImportError) -> [JSONValue] {
            try array(at(root, key, path: ""), key)
        }
        func array(_ v: JSONValue, _ path: String) throws(ModelImportError) -> [JSONValue] {
            guard case .array(let a) = v else { throw fail(path, "expected an array") }
            return a
        }
        func string(_ v: JSONValue?, _ path: String) throws(ModelImportError) -> String {
            guard case .string(let s)? = v else { throw fail(path, "expected a string") }
            return s
        }
        func int(_ v: JSONValue, _ path: String) throws(ModelImportError) -> Int {
            switch v {
            case .number(let s):
                guard let i = Int(s) else { throw fail(path, "'\(s)' is not an integer") }
                return i
            case .string(let s):  // learner_model_param stores numbers as strings
                guard let i = Int(s) else { throw fail(path, "'\(s)' is not an integer") }
                return i
            case .bool(let b): return b ? 1 : 0  // default_left is boolean in some writers
            default: throw fail(path, "expected an integer")
            }
        }
        func float(_ v: JSONValue, _ path: String) throws(ModelImportError) -> Float {
            guard case .number(let s) = v, let f = Float(s) else { throw fail(path, "expected a number") }
            return f
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
