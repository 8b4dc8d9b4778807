/// Rebuilding a `TreeEnsemble` from its flat arrays, as a snapshot stores
/// them: a load then costs a copy and one pass of checks, not a re-import
/// of the model text.
///
/// The arrays come from a file, so nothing in them is trusted. The walk in
/// `TreeEnsemble+Scoring` indexes without bounds checks; these checks are what
/// make that safe for any input: every read stays inside the arrays and the
/// scratch, and every walk ends.
extension TreeEnsemble {
    /// The model's arrays exactly as held in memory, e.g. to write them out.
    public struct FlatArrays: Sendable, Equatable {
        public var featureNames: [String]
        public var nodes: [TreeNode]
        public var roots: [UInt32]
        public var laneStarts: [UInt32]
        public var categoryWords: [UInt32]
        public var baseMargin: Double
        public var accumulation: Accumulation
        public var link: Link

        public init(featureNames: [String], nodes: [TreeNode], roots: [UInt32], laneStarts: [UInt32],
                    categoryWords: [UInt32], baseMargin: Double, accumulation: Accumulation, link: Link) {
            self.featureNames = featureNames
            self.nodes = nodes
            self.roots = roots
            self.laneStarts = laneStarts
            self.categoryWords = categoryWords
            self.baseMargin = baseMargin
            self.accumulation = accumulation
            self.link = link
        }
    }

    public var flatArrays: FlatArrays {
        FlatArrays(featureNames: featureNames, nodes: nodes, roots: roots, laneStarts: laneStarts,
                   categoryWords: categoryWords, baseMargin: baseMargin, accumulation: accumulation, link: link)
    }

    /// Takes the arrays as they are after checking that they are exactly
    /// what `init(featureNames:trees:...)` lays out, which is what makes the
    /// unchecked walk and the bitvector builder safe for any bytes:
    ///
    /// - node 0 is the terminal node (value 0, the terminal slot, jumping to itself);
    /// - tree 0 starts at node 1, each tree right after the one before, the
    ///   last ending at the last node;
    /// - each tree is one binary tree in preorder: a split's next node is its
    ///   first child and its jump goes forward, past that child's whole
    ///   subtree, to its second child, inside its own subtree; so every
    ///   walk ends and every node belongs to exactly one place in one tree;
    /// - a leaf is one node holding its own tree's leaf slot and jumps to the
    ///   root of the next tree of its lane, or to node 0 after the last;
    /// - fast splits read a feature or a negated feature, slow ones a feature;
    ///   categorical bitsets lie back to back in `categoryWords`, in node order;
    /// - the lanes are the ones the import chose (see `laneStarts`).
    ///
    /// Whether the arrays compute what the original model did is not
    /// something a shape check can know; a snapshot's canaries check that.
    public init(flat f: FlatArrays, format: String = "flat") throws(ModelImportError) {
        func fail(_ location: String, _ message: String) -> ModelImportError {
            ModelImportError(format: format, location: location, message: message)
        }
        guard !f.roots.isEmpty else { throw fail("", "the model has no trees") }
        let layout = ScratchLayout(featureCount: f.featureNames.count, treeCount: f.roots.count)
        guard f.featureNames.count < Int(TreeNode.slotMask), f.roots.count < Int(TreeNode.slotMask),
              layout.count <= Int(TreeNode.slotMask) + 1 else {
            throw fail("", "\(f.featureNames.count) features and \(f.roots.count) trees is more than supported")
        }
        guard f.nodes.count >= 2, f.nodes.count < Self.maxNodes else {
            throw fail("nodes", "\(f.nodes.count) nodes; expected between 2 and \(Self.maxNodes)")
        }
        guard f.categoryWords.count <= ModelLimits.maxCategoryWords else {
            throw fail("category words", "\(f.categoryWords.count) words; at most \(ModelLimits.maxCategoryWords)")
        }
        let stride = MemoryLayout<TreeNode>.stride
        let terminal = f.nodes[0]
        guard terminal.value.bitPattern == 0, terminal.slot == UInt32(layout.terminal), terminal.jumpTarget(at: 0) == 0,
              Int(terminal.skip) % stride == 0 else {
            throw fail("node 0", "is not the terminal node")
        }
        // Trees: contiguous, in order, covering every node after node 0.
        guard f.roots[0] == 1 else {
            throw fail("tree 0", "starts at node \(f.roots[0]); the first tree starts at node 1, right after the terminal node")
        }
        for t in 1..<f.roots.count {
            let root = f.roots[t], previous = f.roots[t - 1]
            guard root > previous else {
                throw fail("tree \(t)", "starts at node \(root), not after tree \(t - 1) (at node \(previous)); trees lie one after another")
            }
            guard Int(root) < f.nodes.count else {
                throw fail("tree \(t)", "starts at node \(root), past the \(f.nodes.count) nodes")
            }
        }
        let treeCount = f.roots.count
        let lanes = min(Self.maxLanes, (treeCount + 3) / 4 * 4)
        guard f.laneStarts.count == lanes else {
            throw fail("lanes", "\(f.laneStarts.count) lanes; \(treeCount) trees are walked in \(lanes)")
        }
        for (k, s) in f.laneStarts.enumerated() {
            let want: UInt32 = k < treeCount ? f.roots[k] : 0
            guard s == want else {
                throw fail("lane \(k)", "starts at node \(s); it must start at "
                           + (k < treeCount ? "the root of tree \(k), node \(want)" : "node 0 (there is no tree \(k))"))
            }
        }

        // Each tree parsed in preorder. A pending subtree is the node range
        // it must fill exactly; popping the lowest one first visits the
        // nodes in array order, once each (an explicit stack: deep trees
        // cannot overflow the call stack).
        var slow = false
        var nextWord = 0
        let featureCount = f.featureNames.count
        var pending: [(start: Int, end: Int)] = []
        for t in 0..<treeCount {
            let first = Int(f.roots[t]), last = t + 1 < treeCount ? Int(f.roots[t + 1]) : f.nodes.count
            let leafSlot = UInt32(layout.leaf(t))
            let following = t + lanes < treeCount ? Int(f.roots[t + lanes]) : 0
            pending.append((first, last))
            while let (s, end) = pending.popLast() {
                let node = f.nodes[s]
                // Formed only for an error: this loop runs once per node.
                var at: String { "tree \(t), node \(s)" }
                guard Int(node.skip) % stride == 0 else { throw fail(at, "jump \(node.skip) is not a whole number of nodes") }
                let jump = node.jumpTarget(at: s)
                if !node.isSlow && Int(node.slot) > layout.terminal {
                    guard node.slot == leafSlot else {
                        let owner = Int(node.slot) < layout.count ? "tree \(Int(node.slot) - layout.firstLeaf)'s leaf slot" : "slot \(node.slot), past the \(layout.count) scratch slots"
                        throw fail(at, "a leaf holding \(owner); a leaf of tree \(t) holds slot \(leafSlot)")
                    }
                    guard end == s + 1 else {
                        throw fail(at, "a leaf, but its subtree runs on to node \(end - 1); a leaf is a subtree of one node")
                    }
                    guard jump == following else {
                        throw fail(at, "a leaf jumping to node \(jump); it must jump to "
                                   + (following == 0 ? "node 0 (tree \(t) is the last of its lane)" : "node \(following), the root of tree \(t + lanes), next in its lane"))
                    }
                    continue
                }
                if node.isSlow {
                    guard node.slotIndex < featureCount else {
                        throw fail(at, "splits on feature \(node.slotIndex) but the model has \(featureCount)")
                    }
                    if node.rule == .lightgbmCategory || node.rule == .xgboostCategory {
                        let packed = node.value.bitPattern
                        let offset = Int(packed >> 32), count = Int(packed & 0xFFFF_FFFF)
                        guard offset == nextWord, count <= f.categoryWords.count - offset else {
                            throw fail(at, "category bitset \(offset)+\(count) is not the next \(count) of the \(f.categoryWords.count) words (from word \(nextWord))")
                        }
                        nextWord += count
                    }
                    slow = true
                } else if Int(node.slot) >= layout.terminal {
                    throw fail(at, "a split reading the terminal slot; a split reads a feature or its negation (slots below \(layout.terminal))")
                }
                guard jump > s else {
                    throw fail(at, "jumps back to node \(jump); a split's jump must go forward inside its tree")
                }
                guard jump > s + 1 else {
                    throw fail(at, "jumps to node \(jump), its own next node; a split's first subtree lies between the two")
                }
                guard jump < end else {
                    throw fail(at, end == last
                               ? "jumps to node \(jump), past the end of tree \(t) (nodes \(first)...\(last - 1)); a split's jump must stay inside its tree"
                               : "jumps to node \(jump), past the end of its subtree (nodes \(s)...\(end - 1))")
                }
                pending.append((jump, end))
                pending.append((s + 1, jump))
            }
        }
        guard nextWord == f.categoryWords.count else {
            throw fail("category words", "\(f.categoryWords.count) words, but the categorical splits use \(nextWord)")
        }
        switch f.accumulation {
        case .double(let divisor) where !(divisor.isFinite && divisor > 0):
            throw fail("accumulation", "divisor \(divisor) is not a positive finite number")
        default: break
        }
        if case .lightgbmSigmoid(let k) = f.link, !k.isFinite { throw fail("link", "sigmoid factor \(k) is not finite") }
        featureNames = f.featureNames
        nodes = f.nodes
        roots = f.roots
        laneStarts = f.laneStarts
        categoryWords = f.categoryWords
        hasSlowSplits = slow
        baseMargin = f.baseMargin
        accumulation = f.accumulation
        link = f.link
        // The same layout choice an import makes (without the training
        // shares, which the flat form does not carry: splits keep their
        // stored orientation; scores are the same bits either way).
        selectLayout()
    }
}
