/// A binary classifier made of regression trees whose outputs are summed:
/// what LightGBM and XGBoost train. Immutable, so one instance serves every
/// thread.
///
/// All trees live in one flat node array (`TreeNode`, preorder), so scoring
/// an event walks contiguous memory with no per-node objects or pointers.
public struct TreeEnsemble: ScoringModel {
    /// How leaf values are summed: each library's own precision, in tree order.
    public enum Accumulation: Sendable, Equatable {
        /// LightGBM: doubles from 0, then `/ divisor` (1 unless average_output).
        case double(divisor: Double)
        /// XGBoost: floats starting from the base margin.
        case float
    }

    /// From margin to probability, exactly as the library computes it.
    public enum Link: Sendable, Equatable {
        /// LightGBM binary: `1 / (1 + exp(-k * m))` in double.
        case lightgbmSigmoid(k: Double)
        /// XGBoost binary:logistic: float `1 / (expf(min(-m, 88.7)) + 1 + 1e-16)`.
        case xgboostSigmoid
        /// No link in the library (XGBoost binary:logitraw); Muse applies the
        /// logistic function in double so `probability` is still a probability.
        case logistic
    }

    public let featureNames: [String]
    public let nodes: [TreeNode]
    /// Index of each tree's root in `nodes`.
    public let roots: [UInt32]
    /// For each group of `interleave` consecutive trees, the depth of its
    /// deepest tree: how many steps walk all of them to their leaves.
    public let groupSteps: [UInt16]
    /// Bitsets of all categorical splits, back to back.
    public let categoryWords: [UInt32]
    /// Margin before any tree (XGBoost's base margin; 0 for LightGBM).
    public let baseMargin: Double
    public let accumulation: Accumulation
    public let link: Link

    /// Flattens `trees`; fails if a tree reaches a node twice (a cycle or a
    /// shared subtree) or splits on a feature the model does not have.
    public init(featureNames: [String], trees: [SourceTree], baseMargin: Double,
                accumulation: Accumulation, link: Link, format: String) throws(ModelImportError) {
        guard featureNames.count <= TreeNode.maxFeatures else {
            throw ModelImportError(format: format, location: "", message: "\(featureNames.count) features is more than the \(TreeNode.maxFeatures) supported")
        }
        guard !trees.isEmpty else {
            throw ModelImportError(format: format, location: "", message: "the model has no trees")
        }
        var nodes: [TreeNode] = []
        var roots: [UInt32] = []
        var words: [UInt32] = []
        var steps: [UInt16] = []
        for (t, tree) in trees.enumerated() {
            roots.append(UInt32(nodes.count))
            let depth = try Self.flatten(tree, index: t, featureCount: featureNames.count, format: format,
                                         into: &nodes, words: &words)
            guard depth < Int(UInt16.max) else {
                throw ModelImportError(format: format, location: "tree \(t)", message: "tree is deeper than \(UInt16.max) levels")
            }
            if t % Self.interleave == 0 { steps.append(0) }
            steps[steps.count - 1] = max(steps[steps.count - 1], UInt16(depth))
            guard nodes.count < Int(UInt32.max) else {
                throw ModelImportError(format: format, location: "tree \(t)", message: "the model has more than 2^32 nodes")
            }
        }
        self.featureNames = featureNames
        self.nodes = nodes
        self.roots = roots
        self.groupSteps = steps
        self.categoryWords = words
        self.baseMargin = baseMargin
        self.accumulation = accumulation
        self.link = link
    }

    /// Preorder with an explicit stack (deep trees cannot overflow the call
    /// stack); a split's right child index is patched in when it is emitted.
    /// Returns the tree's depth (edges from the root to its deepest leaf).
    private static func flatten(_ tree: SourceTree, index t: Int, featureCount: Int, format: String,
                                into nodes: inout [TreeNode], words: inout [UInt32]) throws(ModelImportError) -> Int {
        var visited = [Bool](repeating: false, count: tree.splits.count)
        var stack: [(child: SourceTree.Child, parent: Int, depth: Int)] = [(tree.root, -1, 0)]
        var deepest = 0
        while let (child, parent, depth) = stack.popLast() {
            let here = nodes.count
            if parent >= 0 { nodes[parent].right = UInt32(here) }
            switch child {
            case .leaf(let value):
                nodes.append(.leaf(value, at: here))
                deepest = max(deepest, depth)
            case .split(let s):
                guard s >= 0 && s < tree.splits.count else {
                    throw ModelImportError(format: format, location: "tree \(t)", message: "refers to node \(s) but the tree has \(tree.splits.count) split nodes")
                }
                guard !visited[s] else {
                    throw ModelImportError(format: format, location: "tree \(t), node \(s)", message: "node is reached twice (a cycle or a shared subtree)")
                }
                visited[s] = true
                let split = tree.splits[s]
                guard split.feature >= 0 && split.feature < featureCount else {
                    throw ModelImportError(format: format, location: "tree \(t), node \(s)", message: "splits on feature \(split.feature) but the model has \(featureCount) features")
                }
                var word = UInt32(split.feature) | UInt32(split.rule.rawValue) << TreeNode.ruleShift
                if split.missingGoesLeft { word |= TreeNode.missingLeftFlag }
                var value = split.threshold
                if split.rule == .lightgbmCategory || split.rule == .xgboostCategory {
                    let packed = UInt64(words.count) << 32 | UInt64(split.categories.count)
                    value = Double(bitPattern: packed)
                    words.append(contentsOf: split.categories)
                }
                nodes.append(TreeNode(value: value, word: word, right: 0))
                stack.append((split.right, here, depth + 1))
                stack.append((split.left, -1, depth + 1))  // popped next, so it lands at here + 1
            }
        }
        return deepest
    }

    /// Trees walked side by side for one event (see `sumLeaves`).
    static let interleave = 8

    public var treeCount: Int { roots.count }

    /// Bytes held by the model's arrays (nodes, roots, bitsets, names).
    public var memoryFootprint: Int {
        nodes.count * MemoryLayout<TreeNode>.stride + roots.count * 4 + categoryWords.count * 4
            + featureNames.reduce(0) { $0 + $1.utf8.count + 16 }
    }
}
