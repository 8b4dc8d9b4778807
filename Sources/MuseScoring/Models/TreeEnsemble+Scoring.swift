import Foundation

/// LightGBM's `kZeroThreshold` (`1e-35f` widened to double).
let lightgbmZeroThreshold = Double(Float(1e-35))

extension TreeEnsemble {
    /// The margin, or NaN when `features.count` differs from the model's
    /// feature count (never reads past the buffer).
    public func margin(_ features: UnsafeBufferPointer<Double>) -> Double {
        guard features.count == featureNames.count, let x = features.baseAddress else { return .nan }
        return nodes.withUnsafeBufferPointer { n in
            categoryWords.withUnsafeBufferPointer { c in
                roots.withUnsafeBufferPointer { r in
                    sumLeaves(n.baseAddress!, c.baseAddress, r, x)
                }
            }
        }
    }

    public func probability(_ features: UnsafeBufferPointer<Double>) -> Double {
        apply(link: margin(features))
    }

    /// Margins of `count` rows laid out row after row (`featureNames.count`
    /// values each). Walks the trees one block of rows at a time, so a large
    /// model's nodes are read once per block rather than once per row; each
    /// row's sum still runs in tree order, so results equal `margin` exactly.
    public func margins(rows: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) throws(FeatureCountError) {
        let width = featureNames.count
        let count = out.count
        guard rows.count == count * width else {
            throw FeatureCountError(expected: width * count, actual: rows.count)
        }
        guard count > 0, let base = rows.baseAddress else { return }
        let block = 64
        nodes.withUnsafeBufferPointer { n in
            categoryWords.withUnsafeBufferPointer { c in
                roots.withUnsafeBufferPointer { r in
                    var start = 0
                    while start < count {
                        let end = min(start + block, count)
                        switch accumulation {
                        case .double(let divisor):
                            for i in start..<end { out[i] = 0 }
                            for root in r {
                                for i in start..<end {
                                    out[i] += Self.walk(n.baseAddress!, c.baseAddress, Int(root), base + i * width)
                                }
                            }
                            if divisor != 1 { for i in start..<end { out[i] /= divisor } }
                        case .float:
                            var acc = [Float](repeating: Float(baseMargin), count: end - start)
                            for root in r {
                                for i in start..<end {
                                    acc[i - start] += Float(Self.walk(n.baseAddress!, c.baseAddress, Int(root), base + i * width))
                                }
                            }
                            for i in start..<end { out[i] = Double(acc[i - start]) }
                        }
                        start = end
                    }
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

    @inline(__always)
    private func sumLeaves(_ n: UnsafePointer<TreeNode>, _ c: UnsafePointer<UInt32>?, _ r: UnsafeBufferPointer<UInt32>,
                           _ x: UnsafePointer<Double>) -> Double {
        switch accumulation {
        case .double(let divisor):
            var sum = 0.0
            for root in r { sum += Self.walk(n, c, Int(root), x) }
            return divisor == 1 ? sum : sum / divisor
        case .float:
            var sum = Float(baseMargin)
            for root in r { sum += Float(Self.walk(n, c, Int(root), x)) }
            return Double(sum)
        }
    }

    /// Walks one tree from `root` to its leaf value.
    @inline(__always)
    static func walk(_ n: UnsafePointer<TreeNode>, _ c: UnsafePointer<UInt32>?, _ root: Int,
                     _ x: UnsafePointer<Double>) -> Double {
        var i = root
        while true {
            let node = n[i]
            let word = node.word
            if word & TreeNode.leafFlag != 0 { return node.value }
            let v = x[Int(word & TreeNode.featureMask)]
            let left: Bool
            if word & TreeNode.ruleMask == 0 {
                // NaN fails `<=`, so only a missing-left split needs a second test.
                left = v <= node.value || (word & TreeNode.missingLeftFlag != 0 && v.isNaN)
            } else {
                left = slowDecision(node, v, c)
            }
            i = left ? i + 1 : Int(node.right)
        }
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
