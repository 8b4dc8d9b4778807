/// Upper bounds on the counts a model file declares, checked before any
/// arithmetic or allocation uses them.
///
/// A model file is input from outside (an operator's upload, a snapshot), so
/// a count in it must neither overflow (`max_feature_idx + 1`), nor size an
/// allocation far beyond the file (`num_feature` of 10^12), nor let a small
/// file expand into gigabytes (many splits sharing one huge category bitset).
/// The limits sit well above any model Muse is meant to serve and well below
/// what would hurt a host; a file past one is refused with an error naming
/// the limit.
public enum ModelLimits {
    /// Features of one model: 2^20. LightGBM's `max_feature_idx` may be at
    /// most `maxFeatures - 1`. The event ABI carries far fewer per event.
    public static let maxFeatures = 1 << 20
    /// Leaves of one tree: 2^20 (LightGBM itself stops at 131072).
    public static let maxLeavesPerTree = 1 << 20
    /// Nodes (splits and leaves) of one tree: 2^21, i.e. `maxLeavesPerTree`
    /// leaves and their splits.
    public static let maxNodesPerTree = 1 << 21
    /// Trees of one model: 2^20.
    public static let maxTrees = 1 << 20
    /// 32-bit words of all categorical splits' bitsets in one model, counted
    /// per split (splits sharing a bitset in the file each hold a copy):
    /// 2^22 words, 16 MiB. XGBoost's largest category, 2^24 − 1, needs 2^19
    /// words, so eight such splits fit.
    public static let maxCategoryWords = 1 << 22
}
