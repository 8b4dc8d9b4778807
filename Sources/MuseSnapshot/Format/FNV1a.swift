/// FNV-1a 64, exactly as muse.h's `muse_fnv1a` computes the intent schema
/// hash: a client compares it with the hash of the feature names it was
/// built for, so both sides must agree to the bit.
public enum FNV1a {
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let prime: UInt64 = 0x100_0000_01b3

    public static func hash<Bytes: Sequence>(_ bytes: Bytes, seed: UInt64 = offsetBasis) -> UInt64 where Bytes.Element == UInt8 {
        var h = seed
        for b in bytes { h = (h ^ UInt64(b)) &* prime }
        return h
    }

    /// The schema hash of an intent: its feature names joined by "\n".
    public static func schemaHash(_ featureNames: [String]) -> UInt64 {
        hash(featureNames.joined(separator: "\n").utf8)
    }
}
