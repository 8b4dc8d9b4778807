/// A tree as an importer reads it, before flattening: splits in the library's
/// own numbering, children either another split or a leaf value. Importers
/// check each reference is in range; `TreeEnsemble` checks the shape.
public struct SourceTree: Sendable {
    public enum Child: Sendable, Equatable {
        case split(Int)
        case leaf(Double)
    }

    public struct Split: Sendable {
        public var feature: Int
        public var rule: SplitRule
        /// Threshold for `.numeric` and `.zeroBandMissing` (go left when `x <= threshold`).
        public var threshold: Double
        public var missingGoesLeft: Bool
        /// Category bitset for categorical rules: bit `c % 32` of word `c / 32`.
        public var categories: [UInt32]
        public var left: Child
        public var right: Child
        /// Share of the training data that went left, from the counts or
        /// hessian sums the model file records; NaN when unknown. Scoring
        /// never reads it: it only orients the bitvector layout (see
        /// `BitvectorScorer.nextIsLeft`).
        public var leftShare: Double

        public init(feature: Int, rule: SplitRule, threshold: Double = 0, missingGoesLeft: Bool,
                    categories: [UInt32] = [], left: Child, right: Child, leftShare: Double = .nan) {
            self.leftShare = leftShare
            self.feature = feature
            self.rule = rule
            self.threshold = threshold
            self.missingGoesLeft = missingGoesLeft
            self.categories = categories
            self.left = left
            self.right = right
        }
    }

    public var root: Child
    public var splits: [Split]

    public init(root: Child, splits: [Split]) {
        self.root = root
        self.splits = splits
    }
}
