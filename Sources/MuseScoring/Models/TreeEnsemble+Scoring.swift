import Foundation

/// LightGBM's `kZeroThreshold` (`1e-35f` widened to double).
let lightgbmZeroThreshold = Double(Float(1e-35))

extension TreeEnsemble {
    /// The margin, or NaN when `features.count` differs from the model's
    /// feature count (never reads past the buffer).
    public func margin(_ features: UnsafeBufferPointer<Double>) -> Double {
        guard features.count == featureNames.count else { return .nan }
        if let b = bitvector, let x = features.baseAddress {
            return b.withScratch { v in b.score(x, v, accumulation: accumulation, baseMargin: baseMargin) }
        }
        return withWalker { w in
            w.withScratch { input, output in
                w.layout.fill(input, from: features.baseAddress)
                return w.score(input, output)
            }
        }
    }

    public func probability(_ features: UnsafeBufferPointer<Double>) -> Double {
        apply(link: margin(features))
    }

    /// Margins of `out.count` rows laid out row after row (`featureNames.count`
    /// values each); each equals `margin` of that row exactly.
    public func margins(rows: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) throws(FeatureCountError) {
        let width = featureNames.count
        guard rows.count == out.count * width else {
            throw FeatureCountError(expected: width * out.count, actual: rows.count)
        }
        guard out.count > 0 else { return }
        // Batches the kernels take go to the batch layout; smaller ones are
        // scored event by event by the single-event layout.
        if let b = out.count >= BitvectorScorer.minimumLanes ? batchBitvector : bitvector, let x = rows.baseAddress {
            b.scoreBatch(x, count: out.count, into: out.baseAddress!, accumulation: accumulation, baseMargin: baseMargin,
                         kernel: batchKernel)
            return
        }
        withWalker { w in
            w.withScratch { input, output in
                w.layout.fill(input, from: rows.baseAddress)
                for i in 0..<out.count {
                    // Only the features change from row to row; the NaN slots stay.
                    if i > 0 { w.layout.fillFeatures(input, from: rows.baseAddress! + i * width) }
                    out[i] = w.score(input, output)
                }
            }
        }
    }

    /// Probabilities of a batch (see `margins(rows:into:)`).
    public func probabilities(rows: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) throws(FeatureCountError) {
        try margins(rows: rows, into: out)
        for i in out.indices { out[i] = apply(link: out[i]) }
    }

    var scratchLayout: ScratchLayout { ScratchLayout(featureCount: featureNames.count, treeCount: roots.count) }

    @inline(__always)
    private func withWalker<R>(_ body: (TreeWalker) -> R) -> R {
        nodes.withUnsafeBytes { n in
            categoryWords.withUnsafeBufferPointer { c in
                laneStarts.withUnsafeBufferPointer { s in
                    body(TreeWalker(nodes: n.baseAddress!, categories: c.baseAddress, laneStarts: s, layout: scratchLayout,
                                    slow: hasSlowSplits, accumulation: accumulation, baseMargin: baseMargin))
                }
            }
        }
    }

    @inline(__always)
    func apply(link m: Double) -> Double {
        switch link {
        case .lightgbmSigmoid(let k):
            return 1.0 / (1.0 + exp(-k * m))
        case .xgboostSigmoid:
            let x = min(-Float(m), 88.7)
            let denom = expf(x) + 1.0 + 1e-16
            return Double(1.0 / denom)
        case .logistic:
            return 1.0 / (1.0 + exp(-m))
        }
    }

    /// Walks the trees in independent chains, the lanes (lane `k` of `n` takes
    /// trees `k`, `k + n`, ...): one tree's walk is a chain of dependent loads,
    /// so many chains keep the CPU busy. A leaf jumps straight to the next
    /// tree of its lane, so a lane never waits for the others; the walk ends
    /// when every lane rests on the terminal node 0 (byte offset 0).
    ///
    /// The lanes' positions live in a small stack array rather than in
    /// variables: sixteen chains do not fit in registers, and the compiler's
    /// spilling of named variables costs more than one load and store a step.
    @inline(__always)
    static func walk(_ n: UnsafeRawPointer, _ c: UnsafePointer<UInt32>?, _ s: UnsafePointer<UInt32>,
                     _ lanes: Int, _ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, slow: Bool) {
        // Always 0 (the terminal node's value, 0.0, as bits), but the optimizer
        // cannot know it; see `step`.
        let zero = Int(truncatingIfNeeded: n.load(as: TreeNode.self).value.bitPattern)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: maxLanes) { buffer in
            let at = buffer.baseAddress!
            for k in 0..<lanes { at[k] = Int(s[k]) &* MemoryLayout<TreeNode>.stride }
            var moving = 0
            repeat {
                moving = 0
                var k = 0
                while k < lanes {
                    let a = step(n, c, at[k], x, out, zero, slow: slow)
                    let b = step(n, c, at[k &+ 1], x, out, zero, slow: slow)
                    let d = step(n, c, at[k &+ 2], x, out, zero, slow: slow)
                    let e = step(n, c, at[k &+ 3], x, out, zero, slow: slow)
                    at[k] = a; at[k &+ 1] = b; at[k &+ 2] = d; at[k &+ 3] = e
                    moving |= a | b | d | e
                    k &+= 4
                }
            } while moving != 0
        }
    }

    /// One step from the node at byte offset `i` (see `TreeNode`): record the
    /// node's value at its slot, then move to the next node if the slot's
    /// input is `<=` the value, else jump.
    ///
    /// The direction is data-dependent and a branch on it would mispredict
    /// about half the time, so the jump is masked. Computed from the
    /// comparison alone, the optimizer turns the mask back into a select and
    /// then into exactly that branch; subtracting from `zero`, a value it
    /// cannot see is 0, keeps the arithmetic (a single `sbb` on x86).
    @inline(__always)
    static func step(_ n: UnsafeRawPointer, _ c: UnsafePointer<UInt32>?, _ i: Int, _ x: UnsafePointer<Double>,
                     _ out: UnsafeMutablePointer<Double>, _ zero: Int, slow: Bool) -> Int {
        let node = n.load(fromByteOffset: i, as: TreeNode.self)
        let after = i &+ MemoryLayout<TreeNode>.stride
        if slow && node.isSlow {
            return slowDecision(node, x[node.slotIndex], c) ? after : after &+ Int(node.skip)
        }
        let slot = Int(node.slot)
        out[slot] = node.value
        let jump = zero &- (x[slot] <= node.value ? 0 : 1)
        return after &+ (Int(node.skip) & jump)
    }

    /// The rarer split rules, kept out of line so the numeric loop stays small.
    @inline(never)
    static func slowDecision(_ node: TreeNode, _ v: Double, _ c: UnsafePointer<UInt32>?) -> Bool {
        let missingLeft = node.missingGoesLeft
        switch node.rule {
        case .numeric:
            return v <= node.value || (missingLeft && v.isNaN)
        case .zeroBandMissing:
            if v.isNaN || (v >= -lightgbmZeroThreshold && v <= lightgbmZeroThreshold) { return missingLeft }
            return v <= node.value
        case .lightgbmCategory:
            // LightGBM truncates to int; NaN and negatives go right. Values past
            // Int32 are undefined in C++ (INT_MIN on x86, so right): right here too.
            guard v > -1 && v < 2147483648.0 else { return false }
            return bit(node, Int(v), c)
        case .xgboostCategory:
            if v.isNaN { return missingLeft }
            let f = Float(v)
            // Negative or >= 2^24 is an invalid category in XGBoost: left.
            guard f >= 0 && f < 16777216 else { return true }
            return !bit(node, Int(f), c)
        }
    }

    @inline(__always)
    static func bit(_ node: TreeNode, _ category: Int, _ c: UnsafePointer<UInt32>?) -> Bool {
        let packed = node.value.bitPattern
        let offset = Int(packed >> 32), count = Int(packed & 0xFFFF_FFFF)
        let word = category >> 5
        guard word < count, let c else { return false }
        return (c[offset + word] >> UInt32(category & 31)) & 1 == 1
    }
}

/// What scoring reads, as plain pointers and values: the closures that score
/// an event capture this rather than the model, so scoring retains and
/// releases nothing.
struct TreeWalker {
    let nodes: UnsafeRawPointer
    let categories: UnsafePointer<UInt32>?
    let laneStarts: UnsafeBufferPointer<UInt32>
    let layout: ScratchLayout
    let slow: Bool
    let accumulation: TreeEnsemble.Accumulation
    let baseMargin: Double

    /// Input and output halves of the scratch (see `ScratchLayout`).
    @inline(__always)
    func withScratch<R>(_ body: (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * layout.count) { buffer in
            body(buffer.baseAddress!, buffer.baseAddress! + layout.count)
        }
    }

    /// Walks every tree, then sums the leaf values in tree order, in the
    /// library's precision.
    @inline(__always)
    func score(_ input: UnsafePointer<Double>, _ output: UnsafeMutablePointer<Double>) -> Double {
        let s = laneStarts
        if slow {
            TreeEnsemble.walk(nodes, categories, s.baseAddress!, s.count, input, output, slow: true)
        } else {
            TreeEnsemble.walk(nodes, categories, s.baseAddress!, s.count, input, output, slow: false)
        }
        let leaves = UnsafePointer(output + layout.firstLeaf)
        switch accumulation {
        case .double(let divisor):
            var sum = 0.0
            for t in 0..<layout.treeCount { sum += leaves[t] }
            return divisor == 1 ? sum : sum / divisor
        case .float:
            var sum = Float(baseMargin)
            for t in 0..<layout.treeCount { sum += Float(leaves[t]) }
            return Double(sum)
        }
    }
}
