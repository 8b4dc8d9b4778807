/// One node of a flattened tree: 16 bytes, so four fit in a cache line.
///
/// Trees are stored in preorder, so a split's left child is always the next
/// node and only the right child's index needs storing. Leaves are nodes too,
/// which keeps the walk a single loop with one load per level.
@frozen
public struct TreeNode: Sendable, Equatable {
    /// Split threshold (go left when `x <= value`), leaf value, or for a
    /// categorical split the bitset location (`offset << 32 | wordCount`).
    public var value: Double
    /// Feature index in the low 28 bits, then the flags below.
    public var word: UInt32
    /// Index of the right child in the ensemble's node array (a leaf's own index).
    public var right: UInt32

    public static let leafFlag: UInt32 = 1 << 31
    /// Missing values (NaN, or the zero band for `.zeroBandMissing`) go left.
    public static let missingLeftFlag: UInt32 = 1 << 30
    public static let ruleShift: UInt32 = 28
    public static let ruleMask: UInt32 = 3 << 28
    public static let featureMask: UInt32 = (1 << 28) - 1
    public static let maxFeatures = Int(featureMask) + 1

    @inlinable public var isLeaf: Bool { word & Self.leafFlag != 0 }
    @inlinable public var feature: Int { Int(word & Self.featureMask) }
    @inlinable public var missingGoesLeft: Bool { word & Self.missingLeftFlag != 0 }
    @inlinable public var rule: SplitRule { SplitRule(rawValue: UInt8((word & Self.ruleMask) >> Self.ruleShift))! }

    /// A leaf's right child is itself, so a walk that keeps stepping past the
    /// leaf stays on it (see `TreeEnsemble.step`).
    static func leaf(_ value: Double, at index: Int) -> TreeNode {
        TreeNode(value: value, word: leafFlag, right: UInt32(index))
    }
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
