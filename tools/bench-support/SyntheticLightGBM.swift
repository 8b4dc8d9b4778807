import MuseScoring
/// A LightGBM text model written from a seed, shaped like what LightGBM
/// saves (every per-tree key it writes, doubles at full precision), so a
/// benchmark can have a model of any size without training one. The trees
/// are random but valid: `num_leaves` leaves, splits on random features
/// with NaN missing values sent left or right.
public struct SyntheticLightGBM: Sendable {
    public var trees: Int
    public var leaves: Int
    public var features: Int
    public var seed: UInt64

    public init(trees: Int, leaves: Int, features: Int, seed: UInt64) {
        self.trees = trees
        self.leaves = leaves
        self.features = features
        self.seed = seed
    }

    public var featureNames: [String] { (0..<features).map { "f\($0)" } }

    public func text() -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var body: [UInt8] = []
        body.reserveCapacity(trees * leaves * 120)
        var sizes: [Int] = []
        for t in 0..<trees {
            let before = body.count
            appendTree(t, &body, &rng)
            sizes.append(body.count - before)
        }
        var header = """
            tree
            version=v4
            num_class=1
            num_tree_per_iteration=1
            label_index=0
            max_feature_idx=\(features - 1)
            objective=binary sigmoid:1
            feature_names=\(featureNames.joined(separator: " "))
            feature_infos=\(Array(repeating: "[-4:4]", count: features).joined(separator: " "))
            tree_sizes=\(sizes.map(String.init).joined(separator: " "))


            """
        header += ""
        var out = Array(header.utf8)
        out.reserveCapacity(out.count + body.count + 64)
        out += body
        out += Array("end of trees\n\nfeature_importances:\n\nparameters:\n[boosting: gbdt]\nend of parameters\n".utf8)
        return out
    }

    private func appendTree(_ t: Int, _ out: inout [UInt8], _ rng: inout SplitMix64) {
        let splits = leaves - 1
        // Grow by splitting a random open slot; what stays open becomes leaves.
        var left = [Int](repeating: 0, count: splits), right = [Int](repeating: 0, count: splits)
        var open: [(split: Int, isLeft: Bool)] = []
        for k in 0..<splits {
            if k > 0 {
                let i = Int(rng.next() % UInt64(open.count))
                let slot = open.remove(at: i)
                if slot.isLeft { left[slot.split] = k } else { right[slot.split] = k }
            }
            open.append((k, true))
            open.append((k, false))
        }
        for (leaf, slot) in open.enumerated() {
            if slot.isLeft { left[slot.split] = ~leaf } else { right[slot.split] = ~leaf }
        }
        func doubles(_ n: Int, _ scale: Double, _ offset: Double = 0) -> String {
            (0..<n).map { _ in String(rng.uniform() * scale + offset) }.joined(separator: " ")
        }
        var s = "Tree=\(t)\nnum_leaves=\(leaves)\nnum_cat=0\n"
        s += "split_feature=" + (0..<splits).map { _ in String(rng.next() % UInt64(features)) }.joined(separator: " ") + "\n"
        s += "split_gain=" + doubles(splits, 100) + "\n"
        // LightGBM's thresholds are bin boundaries: a few hundred values per feature.
        s += "threshold=" + (0..<splits).map { _ in String(Double(Int(rng.next() % 255) - 127) * 0.0234375 + 0.001953125) }.joined(separator: " ") + "\n"
        s += "decision_type=" + (0..<splits).map { _ in rng.next() & 1 == 0 ? "8" : "10" }.joined(separator: " ") + "\n"
        s += "left_child=" + left.map(String.init).joined(separator: " ") + "\n"
        s += "right_child=" + right.map(String.init).joined(separator: " ") + "\n"
        s += "leaf_value=" + doubles(leaves, 0.2, -0.1) + "\n"
        s += "leaf_weight=" + doubles(leaves, 50) + "\n"
        s += "leaf_count=" + (0..<leaves).map { _ in String(rng.next() % 500) }.joined(separator: " ") + "\n"
        s += "internal_value=" + doubles(splits, 1, -0.5) + "\n"
        s += "internal_weight=" + doubles(splits, 400) + "\n"
        s += "internal_count=" + (0..<splits).map { _ in String(rng.next() % 2000) }.joined(separator: " ") + "\n"
        s += "is_linear=0\nshrinkage=0.05\n\n\n"
        out += Array(s.utf8)
    }
}

