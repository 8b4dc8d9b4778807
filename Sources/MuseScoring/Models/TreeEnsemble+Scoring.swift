import Foundation

/// LightGBM's `kZeroThreshold` (`1e-35f` widened to double).
let lightgbmZeroThreshold = Double(Float(1e-35))

extension TreeEnsemble {
    /// The margin, or NaN when `features.count` differs from the model's
    /// feature count (never reads past the buffer).
    public func margin(_ features: UnsafeBufferPointer<Double>) -> Double {
        guard features.count == featureNames.count else { return .nan }
        return withTables { n, c, r, g in
            withFeatures(features) { x in sumLeaves(n, c, r, g, x) }
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
        withTables { n, c, r, g in
            for i in 0..<out.count {
                out[i] = withFeatures(UnsafeBufferPointer(rebasing: rows[i * width..<(i + 1) * width])) { x in
                    sumLeaves(n, c, r, g, x)
                }
            }
        }
    }

    /// Probabilities of a batch (see `margins(rows:into:)`).
    public func probabilities(rows: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) throws(FeatureCountError) {
        try margins(rows: rows, into: out)
        for i in out.indices { out[i] = apply(link: out[i]) }
    }

    @inline(__always)
    private func withTables<R>(_ body: (UnsafePointer<TreeNode>, UnsafePointer<UInt32>?, UnsafeBufferPointer<UInt32>,
                                        UnsafeBufferPointer<UInt16>) -> R) -> R {
        nodes.withUnsafeBufferPointer { n in
            categoryWords.withUnsafeBufferPointer { c in
                roots.withUnsafeBufferPointer { r in
                    groupSteps.withUnsafeBufferPointer { g in body(n.baseAddress!, c.baseAddress, r, g) }
                }
            }
        }
    }

    /// A model without features still needs a readable address: leaves read feature 0.
    @inline(__always)
    private func withFeatures<R>(_ features: UnsafeBufferPointer<Double>, _ body: (UnsafePointer<Double>) -> R) -> R {
        if let x = features.baseAddress { return body(x) }
        var zero = 0.0
        return withUnsafePointer(to: &zero) { body($0) }
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

    /// Sums leaf values in tree order. Walking one tree is a chain of
    /// dependent loads, so trees are walked `interleave` at a time: the CPU
    /// overlaps their chains. Leaves loop on themselves, so a group simply
    /// takes as many steps as its deepest tree.
    @inline(__always)
    private func sumLeaves(_ n: UnsafePointer<TreeNode>, _ c: UnsafePointer<UInt32>?, _ r: UnsafeBufferPointer<UInt32>,
                           _ g: UnsafeBufferPointer<UInt16>, _ x: UnsafePointer<Double>) -> Double {
        let full = r.count / 8 * 8
        switch accumulation {
        case .double(let divisor):
            var sum = 0.0
            var t = 0
            while t < full {
                var a = Int(r[t]), b = Int(r[t + 1]), d = Int(r[t + 2]), e = Int(r[t + 3])
                var f = Int(r[t + 4]), h = Int(r[t + 5]), k = Int(r[t + 6]), l = Int(r[t + 7])
                for _ in 0..<g[t >> 3] {
                    a = Self.step(n, c, a, x); b = Self.step(n, c, b, x)
                    d = Self.step(n, c, d, x); e = Self.step(n, c, e, x)
                    f = Self.step(n, c, f, x); h = Self.step(n, c, h, x)
                    k = Self.step(n, c, k, x); l = Self.step(n, c, l, x)
                    // Leaf-wise trees are lopsided: stop once all reached leaves.
                    if n[a].word & n[b].word & n[d].word & n[e].word & n[f].word & n[h].word & n[k].word & n[l].word
                        & TreeNode.leafFlag != 0 { break }
                }
                sum += n[a].value; sum += n[b].value; sum += n[d].value; sum += n[e].value
                sum += n[f].value; sum += n[h].value; sum += n[k].value; sum += n[l].value
                t += 8
            }
            while t < r.count { sum += Self.walk(n, c, Int(r[t]), x); t += 1 }
            return divisor == 1 ? sum : sum / divisor
        case .float:
            var sum = Float(baseMargin)
            var t = 0
            while t < full {
                var a = Int(r[t]), b = Int(r[t + 1]), d = Int(r[t + 2]), e = Int(r[t + 3])
                var f = Int(r[t + 4]), h = Int(r[t + 5]), k = Int(r[t + 6]), l = Int(r[t + 7])
                for _ in 0..<g[t >> 3] {
                    a = Self.step(n, c, a, x); b = Self.step(n, c, b, x)
                    d = Self.step(n, c, d, x); e = Self.step(n, c, e, x)
                    f = Self.step(n, c, f, x); h = Self.step(n, c, h, x)
                    k = Self.step(n, c, k, x); l = Self.step(n, c, l, x)
                    // Leaf-wise trees are lopsided: stop once all reached leaves.
                    if n[a].word & n[b].word & n[d].word & n[e].word & n[f].word & n[h].word & n[k].word & n[l].word
                        & TreeNode.leafFlag != 0 { break }
                }
                sum += Float(n[a].value); sum += Float(n[b].value); sum += Float(n[d].value); sum += Float(n[e].value)
                sum += Float(n[f].value); sum += Float(n[h].value); sum += Float(n[k].value); sum += Float(n[l].value)
                t += 8
            }
            while t < r.count { sum += Float(Self.walk(n, c, Int(r[t]), x)); t += 1 }
            return Double(sum)
        }
    }

    /// One level down from node `i`; a leaf stays where it is. Branch-free on
    /// numeric splits: the direction is data-dependent and mispredicts half the
    /// time, so it is computed as a mask rather than branched on.
    @inline(__always)
    static func step(_ n: UnsafePointer<TreeNode>, _ c: UnsafePointer<UInt32>?, _ i: Int, _ x: UnsafePointer<Double>) -> Int {
        let node = n[i]
        let word = node.word
        let v = x[Int(word & TreeNode.featureMask)]
        var goLeft: Int
        if _fastPath(word & TreeNode.ruleMask == 0) {
            let le = v <= node.value ? 1 : 0
            let nan = v.isNaN ? 1 : 0
            goLeft = le | (nan & Int((word >> 30) & 1))
        } else {
            goLeft = slowDecision(node, v, c) ? 1 : 0
        }
        let left = i &+ Int(1 &- (word >> 31))  // a leaf's "left" is itself too
        let mask = 0 &- goLeft
        return (left & mask) | (Int(node.right) & ~mask)
    }

    /// Walks one tree from `root` to its leaf value.
    @inline(__always)
    static func walk(_ n: UnsafePointer<TreeNode>, _ c: UnsafePointer<UInt32>?, _ root: Int,
                     _ x: UnsafePointer<Double>) -> Double {
        var i = root
        while n[i].word & TreeNode.leafFlag == 0 { i = step(n, c, i, x) }
        return n[i].value
    }

    /// The rarer split rules, kept out of line so the numeric loop stays small.
    @inline(never)
    static func slowDecision(_ node: TreeNode, _ v: Double, _ c: UnsafePointer<UInt32>?) -> Bool {
        let missingLeft = node.word & TreeNode.missingLeftFlag != 0
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
