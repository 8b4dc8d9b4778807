extension RoutingTable {
    /// A fingerprint of predictor `index`'s level 1: each member's model
    /// name, weight and posterior correction (FNV-1a over their bytes). Score
    /// sketches are keyed by it beside the predictor's name, so scores of two
    /// different level-1 setups served under one name are never merged; a
    /// generation that keeps the predictor as it was keeps its fingerprint.
    public func levelOneFingerprint(predictor index: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<S: Sequence<UInt8>>(_ bytes: S) {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        }
        func mix(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { mix($0) } }
        let predictor = predictors[index]
        mix(UInt64(predictor.members.count))
        for member in predictor.members {
            let name = modelNames[member.model]
            mix(UInt64(name.utf8.count))
            mix(name.utf8)
            mix(member.weight.bitPattern)
            mix(corrections[member.model].oddsRatio.bitPattern)
        }
        return hash
    }
}
