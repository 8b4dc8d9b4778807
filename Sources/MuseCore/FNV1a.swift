import CMuse

/// FNV-1a 64 through muse.h's own `muse_fnv1a`: the intent schema hash a
/// client compares with the hash of the feature names it was built for, so
/// both sides must agree to the bit, and calling the C function instead of
/// a second implementation makes that so by construction.
public enum FNV1a {
    /// `MUSE_FNV1A_SEED`, the offset basis.
    public static let offsetBasis: UInt64 = MUSE_FNV1A_SEED

    /// The hash of `bytes`, continuing from `seed` (a previous hash, to hash
    /// in pieces).
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = offsetBasis) -> UInt64 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return seed }
        return muse_fnv1a(base, bytes.count, seed)
    }

    public static func hash<Bytes: Sequence>(_ bytes: Bytes, seed: UInt64 = offsetBasis) -> UInt64 where Bytes.Element == UInt8 {
        if let h = bytes.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0), seed: seed) }) { return h }
        return Array(bytes).withUnsafeBytes { hash($0, seed: seed) }
    }

    /// The schema hash of an intent: its feature names joined by "\n".
    public static func schemaHash(_ featureNames: [String]) -> UInt64 {
        hash(featureNames.joined(separator: "\n").utf8)
    }
}
