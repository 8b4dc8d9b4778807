/// One node of a flattened tree: 16 bytes, so four fit in a cache line.
///
/// Every node, split or leaf, is walked by the same step (see
/// `TreeEnsemble.step`): read the event's scratch at `slot`; if that value is
/// `<= value`, go to the next node in the array, otherwise jump `skip` bytes
/// further.
/// The scratch holds the features, their negations, then NaN for every leaf
/// (see `TreeEnsemble.scratchLayout`), and NaN compares false, which gives:
///
/// - a numeric split whose missing values go right reads its feature with its
///   threshold: left child next, right child jumped to;
/// - one whose missing values go left reads the negated feature and tests
///   `-x <= (-t).nextDown`, i.e. `x > t`: its right child is stored next and
///   its left child jumped to, so NaN (which fails every comparison) lands on
///   the missing side in both cases without a NaN test;
/// - a leaf reads a NaN slot, so it always jumps: `next` is the root of the
///   next tree its lane walks (node 0, the terminal node, after the last). The step
///   also stores `value` into the scratch's output at `slot`; for a leaf that
///   slot is its tree's, which is how the leaf value is recorded.
///
/// The rarer rules (categorical, LightGBM's zero band, thresholds the
/// rewriting above cannot express) set `slowFlag` and keep their library's
/// meaning: left child next, `value` the threshold or bitset location.
@frozen
public struct TreeNode: Sendable, Equatable {
    /// Threshold, leaf value, or for a categorical split the bitset location
    /// (`offset << 32 | wordCount`).
    public var value: Double
    /// Scratch slot in the low 28 bits; for slow splits, the flags below.
    public var slot: UInt32
    /// Where the walk goes when the comparison fails, as a distance in bytes
    /// from the node after this one: the walk moves by byte offsets, so a
    /// step is one add with no scaling.
    public var skip: Int32

    public static let slowFlag: UInt32 = 1 << 31
    public static let ruleShift: UInt32 = 29
    public static let ruleMask: UInt32 = 3 << 29
    /// Slow splits only: missing values (NaN, or the zero band) go left.
    public static let missingLeftFlag: UInt32 = 1 << 28
    public static let slotMask: UInt32 = (1 << 28) - 1

    /// Index of the node a failed comparison jumps to, for node `index`.
    @inlinable public func jumpTarget(at index: Int) -> Int { index + 1 + Int(skip) / MemoryLayout<TreeNode>.stride }
    @inlinable public var isSlow: Bool { slot & Self.slowFlag != 0 }
    @inlinable public var slotIndex: Int { Int(slot & Self.slotMask) }
    @inlinable public var missingGoesLeft: Bool { slot & Self.missingLeftFlag != 0 }
    @inlinable public var rule: SplitRule { SplitRule(rawValue: UInt8((slot & Self.ruleMask) >> Self.ruleShift))! }
}

/// How a split compares its feature value. Thresholds of every rule are
/// doubles compared with `<=`; importers translate each library's own
/// comparison into that form so the hot loop has one shape.
public enum SplitRule: UInt8, Sendable {
    /// `x <= t` goes left; NaN goes the missing direction.
    case numeric = 0
    /// LightGBM `missing_type=Zero`: NaN and |x| <= 1e-35 go the missing
    /// direction, everything else compares `x <= t`.
    case zeroBandMissing = 1
    /// LightGBM categorical: `Int(x)` in the bitset goes left; NaN, negative
    /// and out-of-range values go right.
    case lightgbmCategory = 2
    /// XGBoost categorical: `Int(Float(x))` in the bitset goes right; NaN goes
    /// the missing direction; negative and unknown categories go left.
    case xgboostCategory = 3
}
