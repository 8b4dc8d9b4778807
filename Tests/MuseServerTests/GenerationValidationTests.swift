#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseIPC
import Synchronization
import Testing
@testable import MuseServer

/// `GenerationManager.validate`: a snapshot is loaded and checked with no
/// daemon lock held, and nothing is published or recorded until
/// `publish` takes the administration lock.
@Suite(.serialized)
struct GenerationValidationTests {
    init() { Log.muted.store(true, ordering: .relaxed) }

    @Test func validationNeedsNoAdministrationLockAndPublishesNothing() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = SnapshotServingTests.daemon(dir, state: try StateDirectory(path: "\(dir)/state"))
        try daemon.start()
        defer { daemon.stop() }
        let generations = daemon.generations
        let recorded = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/state").sorted()

        // Another thread holds the administration lock (as a reload would)
        // for longer than a validation takes.
        let holder = holdAdministrationLock(of: daemon, microseconds: 1_500_000)
        let started = Date()
        let validated = try generations.validate(.file(SnapshotServingTests.files.gen2, allowSchemaChange: false),
                                                 against: generations.resident,
                                                 segments: daemon.tenants.currentRoster.segments)
        #expect(Date().timeIntervalSince(started) < 1, "validation waited for the administration lock")
        #expect(validated.generation.id == GenerationID(2))
        #expect(validated.steps.map(\.name) == ["read", "decode", "verify", "import"])
        #expect(generations.current?.id == GenerationID(1))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/state").sorted() == recorded)
        while !holder.isFinished { usleep(1000) }

        // Published, it serves and is recorded.
        let steps = try generations.swapping.run { try generations.publish(validated) }
        #expect(steps.last?.name == "publish")
        #expect(generations.current?.id == GenerationID(2) && generations.previous?.id == GenerationID(1))
    }

    /// A file refused by validation names itself, and the serving
    /// generation stays.
    @Test func aRefusedCandidateLeavesTheServingGeneration() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = SnapshotServingTests.daemon(dir, state: nil)
        try daemon.start()
        defer { daemon.stop() }
        let generations = daemon.generations
        let missing = "\(dir)/nowhere.snapshot"
        #expect {
            _ = try generations.validate(.file(missing, allowSchemaChange: false), against: generations.resident,
                                         segments: daemon.tenants.currentRoster.segments)
        } throws: { "\($0)".contains(missing) }
        #expect(generations.current?.id == GenerationID(1))
    }
}
