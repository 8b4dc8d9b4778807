/// A binary classifier made of regression trees whose outputs are summed:
/// what LightGBM and XGBoost train. Immutable, so one instance serves every
/// thread.
///
/// All trees live in one flat node array (`TreeNode`, preorder), so scoring
/// an event walks contiguous memory with no per-node objects or pointers.
/// A second layout, built from that array, scores feature by feature with
/// leaf bitvectors (`BitvectorScorer`); which of the two scores a model is
/// chosen when it is built (`TreeEnsemble+Layout`). Both give the same bits.
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

    public internal(set) var featureNames: [String]
    /// Every tree's nodes in preorder, after node 0, the terminal node where
    /// a lane ends (see `TreeNode` for how a node is walked).
    public let nodes: [TreeNode]
    /// Index of each tree's root in `nodes`.
    public let roots: [UInt32]
    /// Where each lane of the walk starts: the root of its first tree (with
    /// `n = laneStarts.count` lanes, trees `k`, `k + n`, `k + 2n`... form lane
    /// `k`), or 0. Up to `maxLanes`, fewer for small models (a multiple of 4).
    public let laneStarts: [UInt32]
    /// Bitsets of all categorical splits, back to back.
    public let categoryWords: [UInt32]
    /// Whether any node needs the rule test (`TreeNode.slowFlag`); models
    /// without one are walked by a step that has none.
    public let hasSlowSplits: Bool
    /// Margin before any tree (XGBoost's base margin; 0 for LightGBM).
    public let baseMargin: Double
    public let accumulation: Accumulation
    public let link: Link
    /// The bitvector layout when it is the one that scores (see `Layout`);
    /// nil when the lane walk does. Derived from `nodes`, so any initialiser
    /// that fills the arrays above may leave it nil or call `selectLayout`.
    public internal(set) var bitvector: BitvectorScorer? = nil
    /// The bitvector layout when it scores batches of at least
    /// `BitvectorScorer.minimumLanes` events (its kernels score several
    /// events at once, so it can win for batches where the walk wins for
    /// one event); nil when the lane walk does. Often the same object as
    /// `bitvector`.
    public internal(set) var batchBitvector: BitvectorScorer? = nil
    /// Per node of `nodes`, the share of training data that went to the next
    /// node (NaN: unknown, or not a split); empty when no tree recorded it.
    /// Only orients the bitvector layout; scoring never reads it.
    public internal(set) var nextShares: [Float] = []
    /// The kernels the bitvector layout scores a batch with (see
    /// `BitvectorScorer.scoreBatch`); `auto` unless a test or a benchmark
    /// forces one with `with(batchKernel:)`.
    public internal(set) var batchKernel: BitvectorScorer.BatchKernel = .auto

    /// Flattens `trees`; fails if a tree reaches a node twice (a cycle or a
    /// shared subtree) or splits on a feature the model does not have.
    public init(featureNames: [String], trees: [SourceTree], baseMargin: Double,
                accumulation: Accumulation, link: Link, format: String) throws(ModelImportError) {
        guard !trees.isEmpty else {
            throw ModelImportError(format: format, location: "", message: "the model has no trees")
        }
        let layout = ScratchLayout(featureCount: featureNames.count, treeCount: trees.count)
        guard layout.count <= Int(TreeNode.slotMask) + 1 else {
            throw ModelImportError(format: format, location: "", message: "\(featureNames.count) features and \(trees.count) trees is more than supported (2 × features + trees < 2^28)")
        }
        var nodes = [TreeNode(value: 0, slot: UInt32(layout.terminal), skip: 0)]
        nodes[0].setJump(from: 0, to: 0)
        var roots: [UInt32] = []
        var words: [UInt32] = []
        var shares: [Float] = [.nan]
        var slow = false
        for (t, tree) in trees.enumerated() {
            // Checked before flattening: a tree emits at most 2 × splits + 1
            // nodes, and every jump must still fit its Int32 (see `setJump`).
            guard tree.splits.count <= ModelLimits.maxNodesPerTree,
                  tree.splits.count * 2 + 1 <= Self.maxNodes - nodes.count else {
                throw ModelImportError(format: format, location: "tree \(t)", message: "the model has more than \(Self.maxNodes) nodes")
            }
            roots.append(UInt32(nodes.count))
            try Self.flatten(tree, index: t, layout: layout, format: format, into: &nodes, words: &words, shares: &shares, slow: &slow)
        }
        // Chain each lane: a leaf jumps to the root of the lane's next tree.
        let lanes = min(Self.maxLanes, (trees.count + 3) / 4 * 4)
        for t in 0..<trees.count {
            let leafSlot = UInt32(layout.leaf(t))
            let following = t + lanes < trees.count ? Int(roots[t + lanes]) : 0
            let end = t + 1 < trees.count ? Int(roots[t + 1]) : nodes.count
            for i in Int(roots[t])..<end where nodes[i].slot == leafSlot { nodes[i].setJump(from: i, to: following) }
        }
        self.featureNames = featureNames
        self.nodes = nodes
        self.roots = roots
        self.laneStarts = (0..<lanes).map { $0 < roots.count ? roots[$0] : 0 }
        self.categoryWords = words
        self.hasSlowSplits = slow
        self.baseMargin = baseMargin
        self.accumulation = accumulation
        self.link = link
        self.nextShares = shares.contains { !$0.isNaN } ? shares : []
        selectLayout()
    }

    /// Preorder with an explicit stack (deep trees cannot overflow the call
    /// stack); the index of the child a node jumps to is patched in when that
    /// child is emitted. Leaves' jumps are patched by `init` once all roots
    /// are known.
    private static func flatten(_ tree: SourceTree, index t: Int, layout: ScratchLayout, format: String,
                                into nodes: inout [TreeNode], words: inout [UInt32], shares: inout [Float], slow: inout Bool) throws(ModelImportError) {
        var visited = [Bool](repeating: false, count: tree.splits.count)
        var stack: [(child: SourceTree.Child, parent: Int)] = [(tree.root, -1)]
        while let (child, parent) = stack.popLast() {
            let here = nodes.count
            if parent >= 0 { nodes[parent].setJump(from: parent, to: here) }
            switch child {
            case .leaf(let value):
                nodes.append(TreeNode(value: value, slot: UInt32(layout.leaf(t)), skip: 0))
                shares.append(.nan)
            case .split(let s):
                guard s >= 0 && s < tree.splits.count else {
                    throw ModelImportError(format: format, location: "tree \(t)", message: "refers to node \(s) but the tree has \(tree.splits.count) split nodes")
                }
                guard !visited[s] else {
                    throw ModelImportError(format: format, location: "tree \(t), node \(s)", message: "node is reached twice (a cycle or a shared subtree)")
                }
                visited[s] = true
                let split = tree.splits[s]
                guard split.feature >= 0 && split.feature < layout.featureCount else {
                    throw ModelImportError(format: format, location: "tree \(t), node \(s)", message: "splits on feature \(split.feature) but the model has \(layout.featureCount) features")
                }
                let threshold = split.threshold
                if split.rule == .numeric && !threshold.isNaN && !split.missingGoesLeft {
                    // x <= t: left next; NaN fails, so it jumps right.
                    nodes.append(TreeNode(value: threshold, slot: UInt32(split.feature), skip: 0))
                    shares.append(Float(split.leftShare))
                    stack.append((split.right, here))
                    stack.append((split.left, -1))  // popped next, so it lands at here + 1
                } else if split.rule == .numeric && !threshold.isNaN && threshold != .infinity {
                    // x > t  ⇔  -x < -t  ⇔  -x <= (-t).nextDown: right next; NaN jumps left.
                    nodes.append(TreeNode(value: (-threshold).nextDown, slot: UInt32(layout.negated(split.feature)), skip: 0))
                    shares.append(Float(1 - split.leftShare))  // right child next
                    stack.append((split.left, here))
                    stack.append((split.right, -1))
                } else {
                    slow = true
                    var slot = UInt32(split.feature) | UInt32(split.rule.rawValue) << TreeNode.ruleShift | TreeNode.slowFlag
                    if split.missingGoesLeft { slot |= TreeNode.missingLeftFlag }
                    var value = threshold
                    if split.rule == .lightgbmCategory || split.rule == .xgboostCategory {
                        // The packed location below holds 32-bit offset and count.
                        guard split.categories.count <= ModelLimits.maxCategoryWords - words.count else {
                            throw ModelImportError(format: format, location: "tree \(t), node \(s)", message: "the model's category bitsets exceed \(ModelLimits.maxCategoryWords) words")
                        }
                        let packed = UInt64(words.count) << 32 | UInt64(split.categories.count)
                        value = Double(bitPattern: packed)
                        words.append(contentsOf: split.categories)
                    }
                    nodes.append(TreeNode(value: value, slot: slot, skip: 0))
                    shares.append(Float(split.leftShare))
                    stack.append((split.right, here))
                    stack.append((split.left, -1))
                }
            }
        }
    }

    /// Most trees walked side by side for one event (see `walk`); a multiple
    /// of 4. Sixteen measured faster than 8, 24 or 32 on 500-tree models.
    static let maxLanes = 16
    /// Jumps are byte distances in an `Int32`.
    static let maxNodes = Int(Int32.max) / MemoryLayout<TreeNode>.stride - 1

    public var treeCount: Int { roots.count }

    /// Bytes held by the model's arrays (nodes, roots, bitsets, names, and
    /// the bitvector layout when it scores).
    public var memoryFootprint: Int {
        nodes.count * MemoryLayout<TreeNode>.stride + roots.count * 4 + laneStarts.count * 4 + categoryWords.count * 4
            + featureNames.reduce(0) { $0 + $1.utf8.count + 16 } + (bitvector?.memoryFootprint ?? 0)
            + (batchBitvector === bitvector ? 0 : batchBitvector?.memoryFootprint ?? 0)
    }
}

extension TreeNode {
    mutating func setJump(from index: Int, to target: Int) {
        skip = Int32((target - index - 1) * MemoryLayout<TreeNode>.stride)
    }
}
