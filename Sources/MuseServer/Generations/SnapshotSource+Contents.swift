import MuseSnapshot

extension SnapshotSource {
    /// Every part of `generation`, model source text included, read again
    /// from a snapshot that holds exactly it: the state directory's record,
    /// the embedded demo, or the file it was swapped in from. Each is loaded
    /// with the same checks and limits as a swap and taken only if its
    /// content hash is the generation's, so an operator's file that has
    /// moved on since is never mistaken for what serves. Mused keeps no copy
    /// of a generation's bytes while it serves; this read is what editing one
    /// costs, on the control thread.
    public func contents(of generation: Generation) throws -> SnapshotContents {
        guard let hash = generation.contentHash else {
            throw GenerationSourceError("generation \(generation.id) is \(generation.origin), built in code with no snapshot to "
                                        + "extend; swap a snapshot in first")
        }
        var loader = self.loader
        loader.keepModelSources = true
        loader.keepFileBytes = false
        var tried: [String] = []
        func attempt(_ what: String, _ load: () throws(SnapshotError) -> LoadedSnapshot) -> SnapshotContents? {
            do {
                let snapshot = try load()
                if snapshot.contentHash == hash { return snapshot.contents }
                tried.append("\(what) holds other content")
            } catch {
                tried.append("\(what): \(error)")
            }
            return nil
        }
        if let recorded = state?.servingSnapshot, let c = attempt(recorded, { () throws(SnapshotError) in try loader.load(recorded) }) {
            return c
        }
        if generation.origin == Generation.embeddedDemoOrigin,
           let c = attempt("the embedded demo", { () throws(SnapshotError) in try loader.load(bytes: Generation.embeddedDemoSnapshot) }) {
            return c
        }
        if generation.origin.hasPrefix("/"), generation.origin != state?.servingSnapshot,
           let c = attempt(generation.origin, { () throws(SnapshotError) in try loader.load(generation.origin) }) {
            return c
        }
        throw GenerationSourceError("no snapshot holding generation \(generation.id) (content hash 0x\(String(hash, radix: 16))) "
                                    + "can be read" + (tried.isEmpty ? "" : ": " + tried.joined(separator: "; ")))
    }
}

/// Why the serving generation's own snapshot cannot be read back.
public struct GenerationSourceError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
