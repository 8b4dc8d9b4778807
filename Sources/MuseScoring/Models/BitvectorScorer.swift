/// The bitvector layout of a tree ensemble, after QuickScorer (Lucchese et
/// al., SIGIR 2015): rather than walking each tree from its root, score an
/// event feature by feature.
///
/// Each tree's leaves are numbered left to right and the event holds one bit
/// per leaf, all set at first (one 64-bit word for a tree of up to 64 leaves,
/// more words for bigger trees). A split whose test sends the event right
/// (a *false* node) clears the bits of the leaves of its left subtree. Once
/// every false node has cleared its bits, the tree's exit leaf is the lowest
/// set bit: every leaf left of it lies in the left subtree of a false node on
/// the way, and the rightmost leaf is never cleared.
///
/// Which nodes are false needs no walk:
/// - numeric splits on feature `f` go right exactly when `x > T`; they are
///   kept per feature sorted by `T`, so the false ones are a prefix, found by
///   a binary search over the feature's distinct thresholds (nodes sharing a
///   threshold across trees, as histogram-trained models have by the hundred,
///   are compared once, as RapidScorer merges equal nodes); the prefix's
///   masks are then ANDed in with no further test. NaN takes the feature's
///   missing-right list instead;
/// - categorical splits on `f` are tabulated: for each category, the list of
///   that feature's categorical nodes the category sends right (plus one list
///   for values outside the table), so an event looks its category up and
///   ANDs that list;
/// - the rare rest (LightGBM's zero band, a NaN threshold, a table too large)
///   are evaluated one by one with the lane walk's own `slowDecision`.
///
/// A mask is stored as (word, 64-bit mask) entries: a left subtree's leaves
/// are consecutive, so a node clears one range, split into one entry per word
/// it touches (RapidScorer's epitome, at word granularity): trees of any size
/// share one entry format and most nodes of big trees touch one word.
///
/// The exit leaves' values are then summed in tree order, in the library's
/// precision, exactly as the lane walk sums them, so the two layouts agree bit
/// for bit. The layout is built from the flattened nodes (`TreeEnsemble.nodes`)
/// so a model restored from its flat arrays can build it too.
public final class BitvectorScorer: @unchecked Sendable {
    // Immutable after init; the pointers are freed in deinit. The scorer is
    // shared read-only by every thread, as `TreeEnsemble`'s arrays are.

    let featureCount: Int
    let treeCount: Int
    let wordCount: Int

    /// Features with numeric or missing-right nodes, and per such feature:
    /// its distinct thresholds `[uStart, uStart + uCount)`, its entry cuts
    /// `cuts[cutStart + k]` = end of the entries whose threshold is among the
    /// first `k` distinct ones (`cuts[cutStart]` = its first entry), and its
    /// NaN entries `[nanStart, nanEnd)`.
    let numFeatures: Int
    let numFeature: UnsafeMutablePointer<Int32>
    let uStart: UnsafeMutablePointer<Int32>
    let uCount: UnsafeMutablePointer<Int32>
    let cutStart: UnsafeMutablePointer<Int32>
    /// 0, read from memory so the optimizer cannot turn masked arithmetic
    /// back into branches (see `TreeEnsemble.step`).
    let zeroCell: UnsafeMutablePointer<Int>
    let nanStart: UnsafeMutablePointer<Int32>
    let nanEnd: UnsafeMutablePointer<Int32>
    let thresholds: UnsafeMutablePointer<Double>
    let cuts: UnsafeMutablePointer<Int32>

    /// Category tables: feature, kind (0 LightGBM, 1 XGBoost), size `K`, and
    /// `K + 3` offsets into the entries at `offStart` (key `K` is "outside",
    /// `K + 1` an empty list for XGBoost's NaN).
    let catFeatures: Int
    let catFeature: UnsafeMutablePointer<Int32>
    let catKind: UnsafeMutablePointer<Int32>
    let catSize: UnsafeMutablePointer<Int32>
    let catOffStart: UnsafeMutablePointer<Int32>
    let catOffsets: UnsafeMutablePointer<Int32>

    /// Nodes evaluated one by one: the node as flattened (its own rule and
    /// value), whether the walk's "next" child is the left one here, and its entries.
    let directCount: Int
    let directNodes: UnsafeMutablePointer<TreeNode>
    let directStart: UnsafeMutablePointer<Int32>
    let directEnd: UnsafeMutablePointer<Int32>
    let directNextIsLeft: UnsafeMutablePointer<Bool>

    /// All entries: word of the event's bitvector, and the mask ANDed into it.
    let entryCount: Int
    let entryWord: UnsafeMutablePointer<Int32>
    let entryMask: UnsafeMutablePointer<UInt64>

    /// Per tree: first word of its bitvector and index of its first leaf.
    let treeWord: UnsafeMutablePointer<Int32>
    let treeLeaf: UnsafeMutablePointer<Int32>
    let leaves: UnsafeMutablePointer<Double>
    let leafCount: Int
    let maxWordsPerTree: Int

    /// The narrow form, when no tree has more than 32 leaves: a tree's bits
    /// fit a 32-bit word (word `t` for tree `t`), so entry `i` packs into
    /// one 64-bit load, `tree << 32 | low half of its mask`, and the leaves
    /// are padded to 32 per tree (leaf = `paddedLeaves[t * 32 + bit]`). An
    /// AND is then two loads and a store instead of three loads and a store,
    /// and the event's bits take half the cache lines. The wide arrays
    /// (`entryWord`, `entryMask`) then hold one unused element; otherwise
    /// these two do.
    public let narrow: Bool
    let packedEntries: UnsafeMutablePointer<UInt64>
    let paddedLeaves: UnsafeMutablePointer<Double>

    /// What the layout holds, for the selection rule and the benchmark.
    public struct Statistics: Sendable, Equatable {
        public var numericNodes = 0
        public var distinctThresholds = 0
        public var categoricalNodes = 0
        public var tableEntries = 0
        public var directNodes = 0
        public var entries = 0
        public var words = 0
        public var leaves = 0
        public var splitDepthSum = 0  // over leaves: sum of depths, for the walk's cost
        /// Splits on an event's path, summed over trees, as the training
        /// shares predict (0.5 each way where unknown); and those of them
        /// the walk takes its slow step for (categorical, zero band).
        public var expectedSplits = 0.0
        public var expectedSlowSplits = 0.0
        /// Sum over numeric splits of the share on their false side: about
        /// the numeric entries an event ANDs.
        public var falseShareSum = 0.0
        /// Entries of a categorical feature's list, averaged over its keys,
        /// summed over features: about the categorical entries an event ANDs.
        public var categoricalApplyEstimate = 0.0
        public var numericFeatures = 0
        public var categoricalFeatures = 0
    }
    public let statistics: Statistics

    /// Categorical tables stop at this many categories, or this many entries
    /// per feature; past either, the feature's categorical nodes are direct.
    static let maxTableCategories = 4096
    /// 16 Mi entries, 192 MiB; far above the benchmark models (1 Mi at most).
    public static let maxEntries = 1 << 24
    static let maxTableEntries = 1 << 20
    /// Entries per node and category word the layout may hold (the fixtures
    /// hold at most 2.3): so a model's layout is bounded by the model's own
    /// size, not only by `maxEntries`, and a small file from a snapshot
    /// cannot make a large one.
    static let maxEntriesPerElement = 64
    /// Bit tests building all categorical tables may take (one per node and
    /// category), over every feature.
    static let maxTableWork = maxTableEntries * 64

    private struct Entry { var word: Int32; var mask: UInt64 }

    /// Builds the layout from flattened trees (see `TreeEnsemble.init`).
    /// `nextShares` (optional, per node): the share of training data that
    /// went to the next node, which orients each split (see `nextIsLeft`).
    /// Nil when the layout would hold more than `maxEntries` entries, or
    /// more than `maxEntriesPerElement` per node and category word (a split
    /// is one entry per word its left subtree spans, so a deep, lopsided
    /// tree of many leaves could need quadratically many): such a model is
    /// walked. The bound also keeps every index in an `Int32`. The nodes
    /// must form trees (as `TreeEnsemble`'s initialisers check): the
    /// builder walks them from each root.
    init?(nodes: [TreeNode], roots: [UInt32], categoryWords: [UInt32], featureCount: Int, nextShares: [Float] = [],
          maxEntries: Int = BitvectorScorer.maxEntries) {
        let limit = min(maxEntries, Self.maxEntriesPerElement * (nodes.count + categoryWords.count))
        var budget = limit
        let layout = ScratchLayout(featureCount: featureCount, treeCount: roots.count)
        var stats = Statistics()
        // Per feature: numeric (threshold, entries), NaN entries; categorical nodes.
        var numeric = [[(t: Double, e: [Entry])]](repeating: [], count: featureCount)
        var numericLE = [[(t: Double, e: [Entry])]](repeating: [], count: featureCount)
        var nanLists = [[Entry]](repeating: [], count: featureCount)
        var categorical = [[Filed]](repeating: [], count: featureCount)
        var direct: [Filed] = []
        var treeWord: [Int32] = [], treeLeaf: [Int32] = []
        var leafValues: [Double] = []
        var words = 0
        var maxWords = 1
        var maxLeaves = 0

        for root in roots {
            // Pass 1: leaves in order (left child first, as chosen per node) and,
            // for each split, the range of leaves in its left subtree.
            var splitsSeen: [(node: TreeNode, nextIsLeft: Bool)] = []
            let firstLeaf = leafValues.count
            // Left subtree of split s: leaves [leftStart[s], leftEnd[s]) of this tree.
            var leftStart: [Int] = [], leftEnd: [Int] = []
            var pending: [(i: Int, parent: Int, left: Bool, d: Int, reach: Double)] = [(Int(root), -1, false, 0, 1)]
            while let (i, parent, isLeft, d, reach) = pending.popLast() {
                if parent >= 0 && isLeft { leftStart[parent] = leafValues.count - firstLeaf }
                if parent >= 0 && !isLeft {
                    // The left subtree of `parent` ended when its right one starts.
                    leftEnd[parent] = leafValues.count - firstLeaf
                }
                let node = nodes[i]
                let next = i + 1
                let jump = node.jumpTarget(at: i)
                let isLeaf = !node.isSlow && Int(node.slot) > layout.terminal
                if isLeaf {
                    leafValues.append(node.value)
                    stats.splitDepthSum += d
                    continue
                }
                // Orientation: a numeric split on a negated feature (missing
                // values left) stored its right child next; here its left
                // child (the jump) comes first, as in the source tree.
                let share = i < nextShares.count ? nextShares[i] : .nan
                let nextIsLeft = Self.nextIsLeft(node, share: share, featureCount: featureCount, categoryWords: categoryWords)
                let left = nextIsLeft ? next : jump, right = nextIsLeft ? jump : next
                let s = splitsSeen.count
                splitsSeen.append((node, nextIsLeft))
                leftStart.append(0)
                leftEnd.append(0)
                let nextShare = share.isNaN ? 0.5 : Double(share)
                stats.expectedSplits += reach
                if node.isSlow { stats.expectedSlowSplits += reach } else { stats.falseShareSum += min(nextShare, 1 - nextShare) }
                let leftReach = reach * (nextIsLeft ? nextShare : 1 - nextShare)
                pending.append((right, s, false, d + 1, reach - leftReach))
                pending.append((left, s, true, d + 1, leftReach))
            }
            let leafTotal = leafValues.count - firstLeaf
            let treeWords = (leafTotal + 63) / 64
            maxWords = max(maxWords, treeWords)
            maxLeaves = max(maxLeaves, leafTotal)
            treeWord.append(Int32(words))
            treeLeaf.append(Int32(firstLeaf))
            stats.leaves += leafTotal
            for (s, split) in splitsSeen.enumerated() {
                let lo = leftStart[s], hi = leftEnd[s]
                var entries: [Entry] = []
                var w = lo / 64
                while w * 64 < hi {
                    let from = max(lo, w * 64) - w * 64, to = min(hi, w * 64 + 64) - w * 64  // bits [from, to)
                    let ones: UInt64 = to - from == 64 ? ~0 : ((1 << UInt64(to - from)) - 1) << UInt64(from)
                    entries.append(Entry(word: Int32(words + w), mask: ~ones))
                    w += 1
                    budget -= 1
                    if budget < 0 { return nil }
                }
                Self.classify(split.node, split.nextIsLeft, entries, featureCount: featureCount,
                              numeric: &numeric, numericLE: &numericLE, nan: &nanLists, categorical: &categorical, direct: &direct, stats: &stats)
            }
            words += treeWords
        }

        // Category tables; nodes that do not fit one go direct. Whether a
        // table fits is known before it is allocated: its size comes from
        // the bitsets' word counts, which a file chooses.
        var catTables: [(f: Int, kind: Int, size: Int, lists: [[Entry]])] = []
        var tableWork = Self.maxTableWork
        for f in 0..<featureCount where !categorical[f].isEmpty {
            let kindRule = categorical[f][0].node.rule
            var mine: [Filed] = []
            for n in categorical[f] {
                if n.node.rule == kindRule { mine.append(n) } else { direct.append(n) }
            }
            var size = 0
            for n in mine { size = max(size, 32 * Int(n.node.value.bitPattern & 0xFFFF_FFFF)) }
            // Building costs a bit test per node and category (the product is
            // only formed once `size` is known to be small).
            var fits = size <= Self.maxTableCategories && mine.count * (size + 1) <= min(Self.maxTableEntries * 16, tableWork)
            // Keys 0..<size, then `size` for values outside the table, then an
            // always empty list for NaN under XGBoost (it takes `nanLists`).
            var lists: [[Entry]] = []
            var total = 0
            if fits {
                tableWork -= mine.count * (size + 1)
                lists = [[Entry]](repeating: [], count: size + 2)
                // The lists count against the layout's budget as they grow.
                let most = min(Self.maxTableEntries, budget)
                filling: for n in mine {
                    for c in 0...size {
                        // Key `size` stands for every value outside the table:
                        // the decision the walk makes for a category past every bitset.
                        let goesNext = kindRule == .lightgbmCategory
                            ? (c < size && TreeEnsemble.bit(n.node, c, categoryWords))
                            : !(c < size && TreeEnsemble.bit(n.node, c, categoryWords))
                        if goesNext != n.nextIsLeft {
                            total += n.e.count
                            if total > most { fits = false; break filling }
                            lists[c].append(contentsOf: n.e)
                        }
                    }
                }
            }
            if !fits {
                direct.append(contentsOf: mine)
                continue
            }
            budget -= total
            // A list is always ANDed whole: one entry per word.
            lists = lists.map(Self.merged)
            total = lists.reduce(0) { $0 + $1.count }
            stats.categoricalApplyEstimate += Double(total) / Double(size + 1)
            stats.categoricalNodes += mine.count
            stats.tableEntries += total
            if kindRule == .xgboostCategory {
                // NaN takes each node's missing direction: right is false.
                for n in mine where n.node.missingGoesLeft != n.nextIsLeft { nanLists[f].append(contentsOf: n.e) }
            }
            catTables.append((f, kindRule == .lightgbmCategory ? 0 : 1, size, lists))
        }

        // Flatten into the pointer arrays.
        var entryWords: [Int32] = [], entryMasks: [UInt64] = []
        func add(_ es: [Entry]) { for e in es { entryWords.append(e.word); entryMasks.append(e.mask) } }
        var nf: [Int32] = [], us: [Int32] = [], uc: [Int32] = [], cs: [Int32] = [], ns: [Int32] = [], ne: [Int32] = []
        var ths: [Double] = [], cutList: [Int32] = []
        for f in 0..<featureCount where !numeric[f].isEmpty || !numericLE[f].isEmpty || !nanLists[f].isEmpty {
            // Sorted by threshold; equal thresholds keep tree order (stable).
            func sorted(_ list: [(t: Double, e: [Entry])]) -> [(t: Double, e: [Entry])] {
                list.enumerated().sorted { a, b in a.element.t < b.element.t || (a.element.t == b.element.t && a.offset < b.offset) }
                    .map(\.element)
            }
            let le = sorted(numericLE[f]), gt = sorted(numeric[f])
            var distinct: [Double] = []
            for t in (le.map(\.t) + gt.map(\.t)).sorted() where distinct.last != t { distinct.append(t) }
            // Entries: the `<=` block then the `>` block, both by ascending T.
            // With k distinct thresholds below x, the false `<=` splits are a
            // suffix of the first block and the false `>` splits a prefix of
            // the second: one range, [cuts[2k], cuts[2k + 1]).
            let leStart = entryWords.count
            var leBefore: [Int] = [], at = 0
            for (_, e) in le { leBefore.append(at); at += e.count; add(e) }
            let gtStart = entryWords.count
            var gtBefore: [Int] = []
            at = 0
            for (_, e) in gt { gtBefore.append(at); at += e.count; add(e) }
            nf.append(Int32(f))
            us.append(Int32(ths.count))
            uc.append(Int32(distinct.count))
            cs.append(Int32(cutList.count / 2))
            var i = 0, j = 0, leEntries = 0, gtEntries = 0
            for k in 0...distinct.count {
                let bound = k < distinct.count ? distinct[k] : .infinity
                while i < le.count && (k == distinct.count || le[i].t < bound) { leEntries += le[i].e.count; i += 1 }
                while j < gt.count && (k == distinct.count || gt[j].t < bound) { gtEntries += gt[j].e.count; j += 1 }
                cutList.append(Int32(leStart + leEntries))
                cutList.append(Int32(gtStart + gtEntries))
            }
            _ = leBefore; _ = gtBefore
            ths.append(contentsOf: distinct)
            stats.distinctThresholds += distinct.count
            ns.append(Int32(entryWords.count))
            add(Self.merged(nanLists[f]))
            ne.append(Int32(entryWords.count))
        }
        var cf: [Int32] = [], ck: [Int32] = [], csz: [Int32] = [], cos: [Int32] = [], coffs: [Int32] = []
        for table in catTables {
            cf.append(Int32(table.f)); ck.append(Int32(table.kind)); csz.append(Int32(table.size))
            cos.append(Int32(coffs.count))
            for list in table.lists { coffs.append(Int32(entryWords.count)); add(list) }
            coffs.append(Int32(entryWords.count))
        }
        var dn: [TreeNode] = [], dstart: [Int32] = [], dend: [Int32] = [], dnext: [Bool] = []
        for d in direct {
            dn.append(d.node); dstart.append(Int32(entryWords.count)); add(d.e); dend.append(Int32(entryWords.count))
            dnext.append(d.nextIsLeft)
        }
        guard entryWords.count <= limit else { return nil }
        stats.directNodes = direct.count
        stats.numericFeatures = nf.count
        stats.categoricalFeatures = cf.count
        stats.entries = entryWords.count
        stats.words = words

        func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(a.count, 1))
            a.withUnsafeBufferPointer { b in if let base = b.baseAddress { p.initialize(from: base, count: a.count) } }
            return p
        }
        self.featureCount = featureCount
        self.treeCount = roots.count
        self.wordCount = words
        self.numFeatures = nf.count
        self.numFeature = copy(nf); self.uStart = copy(us); self.uCount = copy(uc); self.cutStart = copy(cs)
        self.zeroCell = copy([0])
        self.nanStart = copy(ns); self.nanEnd = copy(ne); self.thresholds = copy(ths); self.cuts = copy(cutList)
        self.catFeatures = cf.count
        self.catFeature = copy(cf); self.catKind = copy(ck); self.catSize = copy(csz); self.catOffStart = copy(cos)
        self.catOffsets = copy(coffs)
        self.directCount = dn.count
        self.directNodes = copy(dn); self.directStart = copy(dstart); self.directEnd = copy(dend)
        self.directNextIsLeft = copy(dnext)
        self.entryCount = entryWords.count
        // The narrow form scores from its packed copy alone.
        let narrow = maxLeaves <= 32
        self.entryWord = copy(narrow ? [0] : entryWords); self.entryMask = copy(narrow ? [0] : entryMasks)
        self.treeWord = copy(treeWord); self.treeLeaf = copy(treeLeaf)
        self.leaves = copy(leafValues); self.leafCount = leafValues.count
        self.maxWordsPerTree = maxWords
        // One word per tree, so an entry's word is its tree.
        self.narrow = narrow
        if narrow {
            self.packedEntries = copy(zip(entryWords, entryMasks).map { word, mask in
                UInt64(UInt32(word)) << 32 | UInt64(UInt32(truncatingIfNeeded: mask))
            })
            var padded = [Double](repeating: 0, count: roots.count * 32)
            for t in 0..<roots.count {
                let first = Int(treeLeaf[t]), end = t + 1 < roots.count ? Int(treeLeaf[t + 1]) : leafValues.count
                for l in first..<end { padded[t * 32 + l - first] = leafValues[l] }
            }
            self.paddedLeaves = copy(padded)
        } else {
            self.packedEntries = copy([0])
            self.paddedLeaves = copy([0])
        }
        self.categoryWords = copy(categoryWords)
        self.categoryWordCount = categoryWords.count
        self.statistics = stats
    }

    let categoryWords: UnsafeMutablePointer<UInt32>
    let categoryWordCount: Int

    /// Bytes of the arrays above.
    public var memoryFootprint: Int {
        let s = statistics
        return s.entries * (narrow ? 8 : 12) + s.distinctThresholds * 12 + numFeatures * 24 + catFeatures * 16 + directCount * 24
            + treeCount * 8 + leafCount * 8 + categoryWordCount * 4
            + (0..<catFeatures).reduce(0) { $0 + (Int(catSize[$1]) + 3) * 4 }
            + (narrow ? treeCount * 32 * 8 : 0)
    }

    /// The entries of a list that is always ANDed whole, one per word (the
    /// masks ANDed together), by ascending word: fewer stores, and none
    /// waits on the one before it.
    private static func merged(_ list: [Entry]) -> [Entry] {
        var masks: [Int32: UInt64] = [:]
        for e in list { masks[e.word, default: ~0] &= e.mask }
        return masks.keys.sorted().map { Entry(word: $0, mask: masks[$0]!) }
    }

    private struct Filed { var node: TreeNode; var e: [Entry]; var nextIsLeft: Bool }

    /// Which child of a flattened split is the left one in the bitvector's
    /// leaf order. Any choice is correct (a subtree's leaves stay
    /// consecutive); what it changes is which side is "false" and ANDs masks:
    /// - a numeric split on a negated feature (missing values left) stored its
    ///   right child next; its left child comes first, so the split is false
    ///   when `x > T` like every other numeric split;
    /// - a categorical split puts the side fewer categories take on the right,
    ///   so an event usually ANDs nothing for it (most categories of a
    ///   LightGBM split go right: the bitset lists the left ones);
    /// - everything else keeps next as left.
    /// With `share` (the training share that went next) known, the likelier
    /// child is the left one, so a split is false (and ANDs) for the fewer events.
    static func nextIsLeft(_ node: TreeNode, share: Float, featureCount: Int, categoryWords: [UInt32]) -> Bool {
        if !share.isNaN { return share >= 0.5 }
        if !node.isSlow {
            return !(Int(node.slot) >= featureCount && !node.value.isNaN && node.value != .infinity)
        }
        guard node.rule == .lightgbmCategory || node.rule == .xgboostCategory else { return true }
        let packed = node.value.bitPattern
        let offset = Int(packed >> 32), count = Int(packed & 0xFFFF_FFFF)
        var inSet = 0
        for w in 0..<count { inSet += categoryWords[offset + w].nonzeroBitCount }
        let size = 32 * count
        // LightGBM: in the set goes next (left); XGBoost: in the set goes right (jump).
        let next = node.rule == .lightgbmCategory ? inSet : size - inSet
        return 2 * next >= size
    }

    /// Files one split: `nextIsLeft` as `nextIsLeft(_:)` chose it.
    private static func classify(_ node: TreeNode, _ nextIsLeft: Bool, _ entries: [Entry], featureCount: Int,
                                 numeric: inout [[(t: Double, e: [Entry])]], numericLE: inout [[(t: Double, e: [Entry])]],
                                 nan: inout [[Entry]],
                                 categorical: inout [[Filed]], direct: inout [Filed], stats: inout Statistics) {
        if !node.isSlow {
            let slot = Int(node.slot)
            let v = node.value
            if slot < featureCount && !v.isNaN {
                stats.numericNodes += 1
                // next is the source's left child, taken iff x <= v; NaN goes right.
                if nextIsLeft {
                    numeric[slot].append((v, entries))  // false iff x > v
                    nan[slot].append(contentsOf: entries)
                } else {
                    numericLE[slot].append((v, entries))  // false iff x <= v
                }
                return
            }
            if slot >= featureCount && !v.isNaN && v != .infinity {
                stats.numericNodes += 1
                // next is the source's right child, taken iff -x <= v iff x >= -v
                // iff x > (-v).nextDown; NaN goes left (the jump).
                let t = (-v).nextDown
                if nextIsLeft {
                    numericLE[slot - featureCount].append((t, entries))  // false iff x <= t, or NaN
                    nan[slot - featureCount].append(contentsOf: entries)
                } else {
                    numeric[slot - featureCount].append((t, entries))  // false iff x > t
                }
                return
            }
            // A NaN or infinite threshold: evaluated as the walk does.
            direct.append(Filed(node: node, e: entries, nextIsLeft: nextIsLeft))
            return
        }
        if node.rule == .lightgbmCategory || node.rule == .xgboostCategory {
            categorical[node.slotIndex].append(Filed(node: node, e: entries, nextIsLeft: nextIsLeft))
            return
        }
        direct.append(Filed(node: node, e: entries, nextIsLeft: nextIsLeft))
    }

    deinit {
        numFeature.deallocate(); uStart.deallocate(); uCount.deallocate(); cutStart.deallocate()
        zeroCell.deallocate()
        nanStart.deallocate(); nanEnd.deallocate(); thresholds.deallocate(); cuts.deallocate()
        catFeature.deallocate(); catKind.deallocate(); catSize.deallocate(); catOffStart.deallocate()
        catOffsets.deallocate()
        directNodes.deallocate(); directStart.deallocate(); directEnd.deallocate(); directNextIsLeft.deallocate()
        entryWord.deallocate(); entryMask.deallocate()
        treeWord.deallocate(); treeLeaf.deallocate(); leaves.deallocate()
        packedEntries.deallocate(); paddedLeaves.deallocate()
        categoryWords.deallocate()
    }

    // MARK: scoring

    /// How many mask entries scoring `x` ANDs (numeric, categorical, direct),
    /// for the benchmark's cost figures; scoring itself does not count.
    public func entriesApplied(_ x: UnsafePointer<Double>) -> (numeric: Int, categorical: Int) {
        var numeric = 0, categorical = 0
        for k in 0..<numFeatures {
            let value = x[Int(numFeature[k])]
            var a = 0
            while a < Int(uCount[k]) && thresholds[Int(uStart[k]) + a] < value { a += 1 }
            let c = cuts + 2 * (Int(cutStart[k]) + a)
            numeric += value.isNaN ? Int(nanEnd[k] - nanStart[k]) : Int(c[1] - c[0])
        }
        for k in 0..<catFeatures {
            let o = catOffsets + Int(catOffStart[k]) + categoryKey(k, x[Int(catFeature[k])])
            categorical += Int(o[1] - o[0])
        }
        return (numeric, categorical)
    }

    /// Runs `body` with the per-event bitvector scratch.
    @inline(__always)
    func withScratch<R>(_ body: (UnsafeMutablePointer<UInt64>) -> R) -> R {
        // The bitvectors, then one (start, end) range per numeric and categorical feature.
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: wordCount + numFeatures + catFeatures + 1) { body($0.baseAddress!) }
    }

    /// The exit leaf of every tree for one event, written to `v` then summed.
    @inline(__always)
    func score(_ x: UnsafePointer<Double>, _ v: UnsafeMutablePointer<UInt64>,
               accumulation: TreeEnsemble.Accumulation, baseMargin: Double) -> Double {
        let ranges = UnsafeMutableRawPointer(v + wordCount).assumingMemoryBound(to: Int32.self)
        findRanges(x, ranges)
        let rangeCount = numFeatures &+ catFeatures
        if narrow {
            // wordCount == treeCount here: the 32-bit words fit in half of `v`.
            return v.withMemoryRebound(to: UInt32.self, capacity: treeCount) { bits in
                bits.initialize(repeating: ~0, count: treeCount)
                let packed = packedEntries
                for r in 0..<rangeCount {
                    var i = Int(ranges[2 &* r])
                    let e = Int(ranges[2 &* r &+ 1])
                    while i < e {
                        let p = packed[i]
                        bits[Int(truncatingIfNeeded: p &>> 32)] &= UInt32(truncatingIfNeeded: p)
                        i &+= 1
                    }
                }
                if directCount > 0 {
                    applyDirect(x) { i in
                        let p = packedEntries[i]
                        bits[Int(truncatingIfNeeded: p &>> 32)] &= UInt32(truncatingIfNeeded: p)
                    }
                }
                return narrowSum(bits, accumulation: accumulation, baseMargin: baseMargin)
            }
        }
        v.initialize(repeating: ~0, count: wordCount)
        let words = entryWord, masks = entryMask
        for r in 0..<rangeCount {
            var i = Int(ranges[2 &* r])
            let e = Int(ranges[2 &* r &+ 1])
            while i < e { v[Int(words[i])] &= masks[i]; i &+= 1 }
        }
        // The rest, one by one, as the walk decides them.
        if directCount > 0 { applyDirect(x) { i in v[Int(entryWord[i])] &= entryMask[i] } }
        return sum(v, accumulation: accumulation, baseMargin: baseMargin)
    }

    /// Each feature's range of entries to AND, as (start, end) pairs in
    /// `ranges`: numeric features first, then categorical ones.
    ///
    /// Numeric: count the distinct thresholds below x (a binary search whose
    /// steps depend only on the count, and masked, not branched, moves); the
    /// false splits are one range; NaN takes its own list. Categorical: one
    /// list per category. Every range is found before any is ANDed: a
    /// range's loop ends on a mispredicted branch, which then discards only
    /// ANDs, and the searches of all features overlap.
    @inline(__always)
    func findRanges(_ x: UnsafePointer<Double>, _ ranges: UnsafeMutablePointer<Int32>) {
        let zero = zeroCell.pointee
        for k in 0..<numFeatures {
            let value = x[Int(numFeature[k])]
            let c = cuts + 2 &* (Int(cutStart[k]) &+ thresholdsBelow(k, value, zero))
            let nan = value.isNaN
            ranges[2 &* k] = nan ? nanStart[k] : c[0]
            ranges[2 &* k &+ 1] = nan ? nanEnd[k] : c[1]
        }
        for k in 0..<catFeatures {
            let o = catOffsets + Int(catOffStart[k]) + categoryKey(k, x[Int(catFeature[k])])
            ranges[2 &* (numFeatures &+ k)] = o[0]
            ranges[2 &* (numFeatures &+ k) &+ 1] = o[1]
        }
    }

    /// How many of numeric feature `k`'s distinct thresholds are below
    /// `value` (0 for NaN); `zero` is `zeroCell.pointee`.
    @inline(__always)
    func thresholdsBelow(_ k: Int, _ value: Double, _ zero: Int) -> Int {
        let base = thresholds + Int(uStart[k])
        var lo = 0, length = Int(uCount[k])
        if length > 0 {
            while length > 1 {
                let half = length &>> 1
                let below = base[lo &+ half &- 1] < value ? 1 : 0
                lo &+= half & (zero &- below)
                length &-= half
            }
            lo &+= base[lo] < value ? 1 : 0
        }
        return lo
    }

    /// The key of categorical feature `k`'s table that `value` looks up.
    @inline(__always)
    func categoryKey(_ k: Int, _ value: Double) -> Int {
        let size = Int(catSize[k])
        if catKind[k] == 0 {
            return value > -1 && value < Double(size) ? Int(value) : size
        }
        let f = Float(value)
        return f >= 0 && f < Float(size) ? Int(f) : (f.isNaN ? size &+ 1 : size)
    }

    /// Decides the direct nodes as the walk does and ANDs (through `and`,
    /// given an entry's index) the entries of each false one.
    @inline(never)
    func applyDirect(_ x: UnsafePointer<Double>, _ and: (Int) -> Void) {
        for d in 0..<directCount {
            let node = directNodes[d]
            let goesNext: Bool
            if node.isSlow {
                goesNext = TreeEnsemble.slowDecision(node, x[node.slotIndex], UnsafePointer(categoryWords))
            } else {
                let slot = Int(node.slot)
                let input = slot < featureCount ? x[slot] : -x[slot - featureCount]
                goesNext = input <= node.value
            }
            // False: the event takes the child that is right here.
            if goesNext != directNextIsLeft[d] {
                for i in Int(directStart[d])..<Int(directEnd[d]) { and(i) }
            }
        }
    }

    /// `sum` for the narrow form: no word search, no per-tree leaf offset.
    @inline(__always)
    func narrowSum(_ bits: UnsafeMutablePointer<UInt32>, accumulation: TreeEnsemble.Accumulation, baseMargin: Double) -> Double {
        let padded = paddedLeaves
        switch accumulation {
        case .double(let divisor):
            var total = 0.0
            for t in 0..<treeCount { total += padded[t &<< 5 &+ bits[t].trailingZeroBitCount] }
            return divisor == 1 ? total : total / divisor
        case .float:
            var total = Float(baseMargin)
            for t in 0..<treeCount { total += Float(padded[t &<< 5 &+ bits[t].trailingZeroBitCount]) }
            return Double(total)
        }
    }

    @inline(__always)
    func sum(_ v: UnsafeMutablePointer<UInt64>, accumulation: TreeEnsemble.Accumulation, baseMargin: Double) -> Double {
        @inline(__always) func leaf(_ t: Int) -> Double {
            var w = Int(treeWord[t])
            let first = w
            if maxWordsPerTree > 1 { while v[w] == 0 { w &+= 1 } }
            return leaves[Int(treeLeaf[t]) &+ (w &- first) &<< 6 &+ v[w].trailingZeroBitCount]
        }
        switch accumulation {
        case .double(let divisor):
            var total = 0.0
            for t in 0..<treeCount { total += leaf(t) }
            return divisor == 1 ? total : total / divisor
        case .float:
            var total = Float(baseMargin)
            for t in 0..<treeCount { total += Float(leaf(t)) }
            return Double(total)
        }
    }
}
