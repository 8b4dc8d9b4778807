/// The per-event scratch a tree walk reads and writes, as slot indices.
///
/// Two arrays of `count` doubles share these indices. The input holds the
/// event's features, then their negations (for splits whose missing values go
/// left, see `TreeNode`), then NaN for the terminal node and for every tree's
/// leaves, so those always jump. The output is where each step stores its
/// node's value: splits and the terminal node write to the first `2w + 1`
/// slots, which are never read; a leaf writes its value to its tree's slot,
/// from which the trees' values are summed in tree order.
struct ScratchLayout {
    let featureCount: Int
    let treeCount: Int

    @inline(__always) func negated(_ feature: Int) -> Int { featureCount + feature }
    /// The terminal node's slot (NaN in, ignored out).
    @inline(__always) var terminal: Int { 2 * featureCount }
    @inline(__always) func leaf(_ tree: Int) -> Int { 2 * featureCount + 1 + tree }
    @inline(__always) var firstLeaf: Int { leaf(0) }
    @inline(__always) var count: Int { 2 * featureCount + 1 + treeCount }

    /// Writes the whole input half for one event: features, negations, NaN.
    /// `x` may be nil only when there are no features.
    @inline(__always)
    func fill(_ input: UnsafeMutablePointer<Double>, from x: UnsafePointer<Double>?) {
        if let x { fillFeatures(input, from: x) }
        (input + terminal).initialize(repeating: .nan, count: treeCount + 1)
    }

    /// Writes the features and their negations (the NaN slots never change).
    @inline(__always)
    func fillFeatures(_ input: UnsafeMutablePointer<Double>, from x: UnsafePointer<Double>) {
        for f in 0..<featureCount {
            input[f] = x[f]
            input[featureCount + f] = -x[f]
        }
    }
}
