#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseIPC
import MuseManifest
import MuseSnapshot
import Testing
@testable import MuseServer

/// A refused swap leaves the state directory exactly as it was: the file is
/// read once, and its bytes are written there only once it is accepted.
/// Part of the serialised SnapshotServingTests: one swap at a time in this
/// process (ThreadSanitizer cannot see that two io_uring rings mapped one
/// after the other at the same address share nothing, and reports a race).
extension SnapshotServingTests {
    static func listing(_ dir: String) -> [String: Data] {
        var out: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            out[name] = FileManager.default.contents(atPath: "\(dir)/\(name)") ?? Data()
        }
        return out
    }

    @Test func aRefusedSwapWritesNothingToTheStateDirectory() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = "\(dir)/state"
        let daemon = Self.daemon(dir, state: try StateDirectory(path: state), workers: 1)
        try daemon.start()
        defer { daemon.stop() }
        let before = Self.listing(state)
        #expect(before.keys.sorted() == [StateDirectory.servingName])

        let junk = "\(dir)/junk"
        try Data(repeating: 0x42, count: 4096).write(to: URL(filePath: junk))
        let fifo = "\(dir)/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        // Generation 1 again, with other content: completions would name
        // "generation 1" for other scores.
        var other = try ManifestBuilder(path: SnapshotServingTests.root.appending(path: "examples/generation/manifest-retrained.toml").path).build()
        other.generationID = 1
        let reused = "\(dir)/reused.snapshot"
        try SnapshotWriter.write(other, to: reused)
        let servingHash = try #require(daemon.generations.current?.contentHash)
        let reusedHash = try SnapshotLoader(io: .plainRead).load(reused).contentHash

        for (path, reason) in [(junk, "not an LZ4 frame"), (fifo, "is a FIFO, not a regular file"), ("/dev/zero", "character device"),
                               (dir, "is a directory"), (reused, "generation 1 is already the serving generation with other content")] {
            do {
                _ = try daemon.generations.swap(to: path, allowSchemaChange: true)
                Issue.record("\(path) was accepted")
            } catch {
                #expect("\(error)".contains(reason), "\(path): \(error)")
                if path == reused {
                    #expect("\(error)".contains(String(servingHash, radix: 16)) && "\(error)".contains(String(reusedHash, radix: 16)),
                            "\(error)")
                }
            }
            #expect(Self.listing(state) == before, "\(path) left something in the state directory")
            #expect(daemon.generations.current?.id == GenerationID(1))
        }
        // The schema check refuses after the load: nothing written either.
        var changed = try ManifestBuilder(path: SnapshotServingTests.root.appending(path: "examples/generation/manifest-retrained.toml").path).build()
        changed.intents = changed.intents.map { IntentSchema(name: $0.name, id: $0.id, featureNames: $0.featureNames.reversed()) }
        let schema = "\(dir)/schema.snapshot"
        try SnapshotWriter.write(changed, to: schema)
        #expect(throws: (any Error).self) { try daemon.generations.swap(to: schema, allowSchemaChange: false) }
        #expect(Self.listing(state) == before)
        // An accepted swap is recorded with the bytes it verified.
        _ = try daemon.generations.swap(to: SnapshotServingTests.files.gen2, allowSchemaChange: false)
        let after = Self.listing(state)
        #expect(after.keys.sorted() == [StateDirectory.previousName, StateDirectory.servingName])
        #expect(after[StateDirectory.servingName] == FileManager.default.contents(atPath: SnapshotServingTests.files.gen2))
        #expect(after[StateDirectory.previousName] == before[StateDirectory.servingName])
        // The same generation again (same id, same content) is no conflict.
        _ = try daemon.generations.swap(to: SnapshotServingTests.files.gen2, allowSchemaChange: false)
        #expect(daemon.generations.current?.id == GenerationID(2))
    }
}
