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

    /// The bytes of generation `id`, which mused builds from the serving
    /// one: `contents` (the serving generation's) with `edits` applied and
    /// a record of what built it (`musectl COMMAND`, `note`) and of the
    /// generation it came from. An edit the contents refuse is thrown as
    /// `refused(reason)`, the command's own error.
    static func derivedSnapshot(_ contents: SnapshotContents, of serving: Generation, id: UInt64, edits: [GenerationEdit],
                                command: String, note: MetadataEntry,
                                refused: (String) -> any Error) throws -> [UInt8] {
        let recorded = edits + [
            .setMetadata(MetadataEntry("built-by", "mused (musectl \(command))")),
            .setMetadata(derivedFrom(serving)),
            .setMetadata(note),
        ]
        let next: SnapshotContents
        do {
            next = try contents.edited(recorded, generationID: id, createdAt: ThreadSupport.unixNanoseconds() / 1_000_000_000)
        } catch { throw refused("\(error)") }
        return try SnapshotWriter.encode(next)
    }
}

struct GenerationIDsExhausted: Error, CustomStringConvertible {
    let largest: UInt64
    var description: String { "generation ids are exhausted (the serving one is \(largest))" }
}
