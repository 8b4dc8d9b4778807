import MuseSnapshot

extension GenerationManager {
    /// The id of a generation mused builds itself from the serving one (a
    /// candidate, a promotion): one more than the largest resident id, so it
    /// is never the id of a resident generation with other content.
    func derivedGenerationID(from serving: Generation) throws(GenerationIDsExhausted) -> UInt64 {
        let largest = max(serving.id.rawValue, previous?.id.rawValue ?? 0)
        guard largest < UInt64(Int64.max) else { throw GenerationIDsExhausted(largest: largest) }
        return largest + 1
    }

    /// The metadata a generation mused builds records of the one it came from.
    static func derivedFrom(_ serving: Generation) -> MetadataEntry {
        MetadataEntry("derived-from", "generation \(serving.id) (content hash 0x\(String(serving.contentHash ?? 0, radix: 16)))")
    }
}

struct GenerationIDsExhausted: Error, CustomStringConvertible {
    let largest: UInt64
    var description: String { "generation ids are exhausted (the serving one is \(largest))" }
}
