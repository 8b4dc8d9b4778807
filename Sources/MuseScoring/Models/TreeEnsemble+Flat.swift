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

    /// Takes the arrays as they are after checking that walking them is safe:
    ///
    /// - node 0 is the terminal node (value 0, the terminal slot, jumping to itself);
    /// - every other node moves forward: its next node and its jump target
    ///   lie after it in the array, or the jump goes to the terminal node,
    ///   so every walk ends;
    /// - fast nodes read and write scratch slots that exist, slow nodes read
    ///   a feature, and categorical bitsets lie inside `categoryWords`;
    /// - lanes are a multiple of 4, at most `maxLanes`, each starting at a node.
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
        let stride = MemoryLayout<TreeNode>.stride
        let terminal = f.nodes[0]
        guard terminal.value.bitPattern == 0, terminal.slot == UInt32(layout.terminal), terminal.jumpTarget(at: 0) == 0,
              Int(terminal.skip) % stride == 0 else {
            throw fail("node 0", "is not the terminal node")
        }
        var slow = false
        let featureCount = f.featureNames.count
        for i in 1..<f.nodes.count {
            let node = f.nodes[i]
            guard Int(node.skip) % stride == 0 else { throw fail("node \(i)", "jump \(node.skip) is not a whole number of nodes") }
            let target = node.jumpTarget(at: i)
            guard target == 0 || (target > i && target < f.nodes.count) else {
                throw fail("node \(i)", "jumps to node \(target), not forward inside the \(f.nodes.count) nodes")
            }
            if node.isSlow {
                slow = true
                guard node.slotIndex < featureCount else {
                    throw fail("node \(i)", "splits on feature \(node.slotIndex) but the model has \(featureCount)")
                }
                guard i + 1 < f.nodes.count else { throw fail("node \(i)", "is a split with no node after it") }
                if node.rule == .lightgbmCategory || node.rule == .xgboostCategory {
                    let packed = node.value.bitPattern
                    let offset = Int(packed >> 32), count = Int(packed & 0xFFFF_FFFF)
                    guard offset <= f.categoryWords.count, count <= f.categoryWords.count - offset else {
                        throw fail("node \(i)", "category bitset \(offset)+\(count) lies outside the \(f.categoryWords.count) words")
                    }
                }
            } else {
                guard Int(node.slot) < layout.count else {
                    throw fail("node \(i)", "reads scratch slot \(node.slot) of \(layout.count)")
                }
                // A node whose slot holds a feature can fall through to the next node.
                if Int(node.slot) < layout.terminal, i + 1 >= f.nodes.count {
                    throw fail("node \(i)", "is a split with no node after it")
                }
            }
        }
        for (t, r) in f.roots.enumerated() where r == 0 || Int(r) >= f.nodes.count {
            throw fail("tree \(t)", "root \(r) is not a node")
        }
        let lanes = f.laneStarts.count
        guard lanes > 0, lanes % 4 == 0, lanes <= Self.maxLanes else {
            throw fail("lanes", "\(lanes) lanes; expected a multiple of 4 up to \(Self.maxLanes)")
        }
        for (k, s) in f.laneStarts.enumerated() where Int(s) >= f.nodes.count {
            throw fail("lane \(k)", "starts at node \(s), past the \(f.nodes.count) nodes")
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
