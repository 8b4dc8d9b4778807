import CMuseKernels

/// The batch path of the bitvector layout: events scored eight at a time
/// (`MUSE_BV_LANES`), sixteen where a batch has them, after V-QuickScorer
/// (Lucchese et al., SIGIR 2016).
///
/// The eight events' bitvectors are interleaved word by word, so one vector
/// instruction ANDs an entry's mask into every event that needs it. The C
/// kernels (`muse_kernels.h`) hold no split rule:
/// - numeric features: the kernel counts each event's distinct thresholds
///   below its value as `thresholdsBelow` does (eight binary searches in
///   lockstep), so each event's false splits are the range `score` would
///   AND; the ranges overlap from event to event around one point, and the
///   kernel walks their union once, each entry ANDed into the events whose
///   range holds it (one walk for two blocks: sixteen events' ranges span
///   little more than eight's);
/// - NaN lists and categorical lists (keys found here by `categoryKey`, as
///   in `score`) are the same for every event that takes them and disjoint
///   otherwise: each distinct one is walked once, for the events sharing it;
/// - direct nodes are decided per event here, as in `score`.
/// The exit leaves are summed per lane in tree order in the library's
/// precision, as `sum` and `narrowSum` do, so each event's margin is the
/// same bits as `score` gives it.
extension BitvectorScorer {
    /// Which kernels score a batch. `scalar` is `score` event by event (the
    /// path before the kernels, kept for small remainders, benchmarks and
    /// tests); `auto` is the AVX-512 kernels, else the AVX2 ones, else
    /// `scalar`: the portable kernels (plain C vectors, SSE2 on x86-64)
    /// measured no faster than it, so they run only when asked for.
    public enum BatchKernel: String, Sendable, CaseIterable {
        case auto, scalar, portable, avx2, avx512

        /// The kernels this CPU runs, `auto` and `scalar` included.
        public static var available: [BatchKernel] {
            let best = muse_kernels_best_level()
            return allCases.filter { k in
                switch k {
                case .auto, .scalar: return true
                case .portable: return true
                case .avx2: return best >= MUSE_KERNELS_AVX2
                case .avx512: return best >= MUSE_KERNELS_AVX512
                }
            }
        }

        /// What this kernel choice runs for `scorer` on this CPU (`auto`
        /// resolved; a kernel the CPU lacks runs the best it has).
        public func resolved(for scorer: BitvectorScorer) -> BatchKernel {
            switch level(for: scorer) {
            case nil: return .scalar
            case let l? where l >= MUSE_KERNELS_AVX512 && muse_kernels_best_level() >= MUSE_KERNELS_AVX512: return .avx512
            case let l? where l >= MUSE_KERNELS_AVX2 && muse_kernels_best_level() >= MUSE_KERNELS_AVX2: return .avx2
            default: return .portable
            }
        }

        /// The `MUSE_KERNELS_*` level for `scorer`, nil for event by event.
        func level(for scorer: BitvectorScorer) -> Int32? {
            switch self {
            case .auto:
                let best = muse_kernels_best_level()
                return best >= MUSE_KERNELS_AVX2 ? best : nil
            case .scalar: return nil
            case .portable: return MUSE_KERNELS_PORTABLE
            case .avx2: return MUSE_KERNELS_AVX2
            case .avx512: return MUSE_KERNELS_AVX512
            }
        }
    }

    /// Events per kernel block.
    public static var lanes: Int { Int(MUSE_BV_LANES) }

    /// Blocks with fewer events than this are scored event by event: a
    /// block costs nearly as much whatever its events (its searches and its
    /// sum run for all lanes), and below five events it costs more than
    /// scoring them one by one (measured on the benchmark fixtures).
    public static let minimumLanes = 5

    var kernelLayout: muse_bv_layout {
        muse_bv_layout(packed: UnsafePointer(packedEntries), entry_word: UnsafePointer(entryWord),
                       entry_mask: UnsafePointer(entryMask), tree_word: UnsafePointer(treeWord),
                       tree_leaf: UnsafePointer(treeLeaf), leaves: UnsafePointer(leaves),
                       padded_leaves: UnsafePointer(paddedLeaves), u_start: UnsafePointer(uStart),
                       u_count: UnsafePointer(uCount), cut_start: UnsafePointer(cutStart),
                       nan_start: UnsafePointer(nanStart), nan_end: UnsafePointer(nanEnd),
                       thresholds: UnsafePointer(thresholds), cuts: UnsafePointer(cuts),
                       num_features: Int32(numFeatures), tree_count: Int32(treeCount),
                       word_count: Int32(wordCount), max_words_per_tree: Int32(maxWordsPerTree),
                       narrow: narrow ? 1 : 0)
    }

    /// Margins of `count` rows laid out row after row (`featureCount` values
    /// each): each is the value `score` gives that row.
    func scoreBatch(_ rows: UnsafePointer<Double>, count: Int, into out: UnsafeMutablePointer<Double>,
                    accumulation: TreeEnsemble.Accumulation, baseMargin: Double, kernel: BatchKernel = .auto) {
        guard let level = kernel.level(for: self), count >= Self.minimumLanes else {
            withScratch { v in
                for i in 0..<count { out[i] = score(rows + i &* featureCount, v, accumulation: accumulation, baseMargin: baseMargin) }
            }
            return
        }
        let lanes = Self.lanes
        var layout = kernelLayout
        // Ranges: numeric features (ordered), then their NaN lists and the
        // categorical features (scattered), `lanes` starts and ends each.
        let ordered = numFeatures, scattered = numFeatures &+ catFeatures
        let rangeInts = (ordered &+ scattered) &* lanes
        let bitsBytes = muse_bv_block_bytes(&layout)
        let float: Bool, divisor: Double
        switch accumulation {
        case .double(let d): float = false; divisor = d
        case .float: float = true; divisor = 1
        }
        let valuesBytes = numFeatures &* lanes &* 8
        // Two blocks' worth: bits, values, starts, ends, then the sums; the
        // bits and the values at multiples of 64 bytes, as the kernels' loads are.
        let bitsSpan = (bitsBytes &+ 63) & ~63
        let blockBytes = (bitsSpan &+ valuesBytes &+ 2 &* rangeInts &* 4 &+ 63) & ~63
        withUnsafeTemporaryAllocation(byteCount: 2 &* blockBytes &+ lanes &* 8, alignment: 64) { raw in
            let base = raw.baseAddress!
            func block(_ b: Int) -> Block {
                let bits = base + b &* blockBytes
                let starts = (bits + bitsSpan + valuesBytes).assumingMemoryBound(to: Int32.self)
                return Block(bits: bits, values: (bits + bitsSpan).assumingMemoryBound(to: Double.self),
                             starts: starts, ends: starts + rangeInts)
            }
            let a = block(0), b = block(1)
            let sums = (base + 2 &* blockBytes).assumingMemoryBound(to: Double.self)
            var first = 0
            while first < count {
                let left = count &- first
                if left < Self.minimumLanes {
                    withScratch { v in
                        for i in first..<count { out[i] = score(rows + i &* featureCount, v, accumulation: accumulation, baseMargin: baseMargin) }
                    }
                    return
                }
                // Sixteen events (the second block holding at least the
                // fewest a block is worth) share one pass over the numeric
                // entries; otherwise one block.
                let realA = min(lanes, left)
                let realB = left &- realA >= Self.minimumLanes ? min(lanes, left &- realA) : 0
                fill(a, rows: rows + first &* featureCount, real: realA)
                muse_bv_find(level, &layout, a.values, Int32(realA), a.starts, a.ends)
                if realB > 0 {
                    fill(b, rows: rows + (first &+ lanes) &* featureCount, real: realB)
                    muse_bv_find(level, &layout, b.values, Int32(realB), b.starts, b.ends)
                    muse_bv_apply_pair(level, &layout, a.bits, b.bits, a.starts, a.ends, b.starts, b.ends,
                                       Int32(ordered), Int32(scattered))
                } else {
                    muse_bv_apply(level, &layout, a.bits, a.starts, a.ends, Int32(ordered), Int32(scattered))
                }
                func finish(_ block: Block, at start: Int, real: Int) {
                    if directCount > 0 {
                        for lane in 0..<real { applyDirect(rows + (start &+ lane) &* featureCount, lane: lane, block.bits) }
                    }
                    muse_bv_sum(level, &layout, block.bits, float ? 1 : 0, baseMargin, sums)
                    for lane in 0..<real { out[start &+ lane] = divisor == 1 ? sums[lane] : sums[lane] / divisor }
                }
                finish(a, at: first, real: realA)
                if realB > 0 { finish(b, at: first &+ lanes, real: realB) }
                first &+= realB > 0 ? lanes &+ realB : realA
            }
        }
    }

    /// One kernel block's scratch: its events' bits, numeric values and ranges.
    struct Block {
        var bits: UnsafeMutableRawPointer
        var values: UnsafeMutablePointer<Double>
        var starts: UnsafeMutablePointer<Int32>
        var ends: UnsafeMutablePointer<Int32>
    }

    /// A block's numeric values and categorical ranges from `real` rows;
    /// lanes past them take no entry (their sums are dropped).
    private func fill(_ block: Block, rows: UnsafePointer<Double>, real: Int) {
        let lanes = Self.lanes
        let catRow = 2 &* numFeatures &* lanes
        for lane in 0..<lanes {
            guard lane < real else {
                for k in 0..<numFeatures { block.values[k &* lanes &+ lane] = 0 }
                for k in 0..<catFeatures { block.starts[catRow &+ k &* lanes &+ lane] = 0; block.ends[catRow &+ k &* lanes &+ lane] = 0 }
                continue
            }
            let x = rows + lane &* featureCount
            for k in 0..<numFeatures { block.values[k &* lanes &+ lane] = x[Int(numFeature[k])] }
            for k in 0..<catFeatures {
                let o = catOffsets + Int(catOffStart[k]) + categoryKey(k, x[Int(catFeature[k])])
                block.starts[catRow &+ k &* lanes &+ lane] = o[0]
                block.ends[catRow &+ k &* lanes &+ lane] = o[1]
            }
        }
    }

    /// The direct nodes of one event, into its lane of a block's bits.
    func applyDirect(_ x: UnsafePointer<Double>, lane: Int, _ bits: UnsafeMutableRawPointer) {
        let lanes = Self.lanes
        if narrow {
            let b = bits.assumingMemoryBound(to: UInt32.self)
            applyDirect(x) { i in
                let p = packedEntries[i]
                b[Int(truncatingIfNeeded: p &>> 32) &* lanes &+ lane] &= UInt32(truncatingIfNeeded: p)
            }
        } else {
            let b = bits.assumingMemoryBound(to: UInt64.self)
            applyDirect(x) { i in b[Int(entryWord[i]) &* lanes &+ lane] &= entryMask[i] }
        }
    }
}
