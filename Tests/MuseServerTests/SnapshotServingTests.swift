#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseIPC
import MuseManifest
import MuseScoring
import MuseSnapshot
import Synchronization
import Testing
@testable import MuseServer

/// mused's generation manager on real snapshot files (the example
/// generations built from the committed fixtures), real io_uring loading and
/// real muse.h clients on threads.
@Suite(.serialized)
struct SnapshotServingTests {
    init() { Log.muted.store(true, ordering: .relaxed) }

    static let root = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let tenants = ["bank-a", "shop-b", "wallet-c"]

    /// Generation 1 and 2 snapshot files, built once from the example manifests.
    static let files: (dir: String, gen1: String, gen2: String) = {
        let dir = GenerationSwapTests.runtimeDirectory()
        let gen1 = "\(dir)/gen1.snapshot", gen2 = "\(dir)/gen2.snapshot"
        for (manifest, out) in [("manifest.toml", gen1), ("manifest-retrained.toml", gen2)] {
            let contents = try! ManifestBuilder(path: root.appending(path: "examples/generation/\(manifest)").path).build()
            try! SnapshotWriter.write(contents, to: out)
        }
        return (dir, gen1, gen2)
    }()

    /// The same generations loaded on their own (plain reads): the offline scorer.
    static let offline: [UInt64: LoadedSnapshot] = {
        let loader = SnapshotLoader(io: .plainRead)
        return [1: try! loader.load(files.gen1), 2: try! loader.load(files.gen2)]
    }()

    static func daemon(_ dir: String, state: StateDirectory?, workers: Int = 2) -> Daemon {
        let config = DaemonConfiguration(runtimeDirectory: "\(dir)/run",
                                         tenants: tenants.map { TenantConfiguration(name: $0, channels: 2, ringDepth: 64) },
                                         workers: workers, spinNanoseconds: 50_000)
        return Daemon(configuration: config, snapshots: SnapshotSource(state: state),
                      initial: .recordedOr(snapshot: files.gen1))
    }

    /// Clients of three tenants submit continuously while generations are
    /// swapped 200 times and rolled back now and then: nothing is lost,
    /// errored or answered twice, and every answer is bit for bit what the
    /// generation it names scores offline for the same event.
    @Test func swapsAndRollbacksUnderLoadLoseNothingAndScoreEachEventByTheGenerationNamed() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = Self.daemon(dir, state: try StateDirectory(path: "\(dir)/state"))
        try daemon.start()
        defer { daemon.stop() }
        #expect(daemon.generations.current?.id == GenerationID(1))
        let canaries = Self.offline[1]!.canaries
        let stop = Atomic<Bool>(false)
        let failures = Locked<[String]>([])
        let answered = Atomic<Int>(0)
        let seenGenerations = Locked<Set<UInt64>>([])
        var threads: [Thread] = []
        for tenant in Self.tenants {
            let events = canaries.filter { $0.tenant == tenant }
            let thread = Thread {
                func fail(_ message: String) { failures.withLock { if $0.count < 20 { $0.append(message) } } }
                var client = muse_client()
                guard muse_open_tenant(&client, "\(dir)/run", tenant) == MUSE_OK else { return fail("\(tenant): open") }
                defer { muse_close(&client) }
                var channel = muse_channel()
                guard muse_claim(&client, &channel) == MUSE_OK else { return fail("\(tenant): claim") }
                var ids: [String: UInt32] = [:]
                for intent in Self.offline[1]!.intents { ids[intent.name] = intent.id.rawValue }
                var sent: UInt64 = 0, received: UInt64 = 0
                var done = [muse_completion](repeating: muse_completion(), count: 32)
                var generations = Set<UInt64>()
                while !stop.load(ordering: .relaxed) || received < sent {
                    while !stop.load(ordering: .relaxed) && sent - received < 96 {
                        let event = events[Int(sent % UInt64(events.count))]
                        var x = event.features
                        guard muse_submit(&channel, sent, ids[event.intent]!, &x, UInt32(x.count)) == MUSE_OK else { break }
                        sent += 1
                    }
                    // `stop` may have turned between the two loop tests: then
                    // nothing is in flight and there is nothing to wait for.
                    if received == sent { continue }
                    var n = 0
                    guard muse_wait(&channel, &done, 32, &n, 2_000_000_000) == MUSE_OK else {
                        return fail("\(tenant): no answer within 2 s (sent \(sent), received \(received))")
                    }
                    for c in done[0..<n] {
                        let event = events[Int(c.tag % UInt64(events.count))]
                        guard c.tag == received else { return fail("\(tenant): tag \(c.tag), expected \(received)") }
                        received += 1
                        generations.insert(c.generation_id)
                        guard c.status == 0, let snapshot = Self.offline[c.generation_id] else {
                            fail("\(tenant): status \(c.status) from generation \(c.generation_id)")
                            continue
                        }
                        let table = snapshot.routingTable
                        let outcome = event.features.withUnsafeBufferPointer {
                            table.score(tenant: table.tenantID(tenant) ?? -1, intent: table.intentID(event.intent) ?? -1,
                                        features: $0)
                        }
                        guard case .scored(let s) = outcome, s.score.bitPattern == c.score.bitPattern,
                              s.raw.bitPattern == c.raw_score.bitPattern else {
                            fail("\(tenant) \(event.intent) generation \(c.generation_id): got \(c.score)/\(c.raw_score), offline \(outcome)")
                            continue
                        }
                    }
                }
                answered.add(Int(received), ordering: .relaxed)
                seenGenerations.withLock { $0.formUnion(generations) }
            }
            threads.append(thread)
            thread.start()
        }
        var rollbacks = 0
        for swap in 1...200 {
            _ = try daemon.generations.swap(to: swap % 2 == 1 ? Self.files.gen2 : Self.files.gen1, allowSchemaChange: false)
            if swap % 25 == 0 {
                _ = try daemon.generations.rollback()
                rollbacks += 1
            }
        }
        stop.store(true, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(30)
        while threads.contains(where: { !$0.isFinished }) && Date() < deadline { usleep(10_000) }
        #expect(failures.withLock { $0 } == [])
        #expect(answered.load(ordering: .relaxed) > 10_000)
        #expect(seenGenerations.withLock { $0 } == [1, 2])
        #expect(rollbacks == 8)
    }

    /// Every refusal names its reason and leaves the serving generation as it was.
    @Test func refusedSnapshotsLeaveTheServingGenerationUntouched() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = Self.daemon(dir, state: try StateDirectory(path: "\(dir)/state"), workers: 1)
        try daemon.start()
        defer { daemon.stop() }
        let good = try [UInt8](Data(contentsOf: URL(filePath: Self.files.gen2)))
        func refuse(_ bytes: [UInt8], _ name: String, allowSchemaChange: Bool = false) -> String {
            let path = "\(dir)/\(name)"
            try? Data(bytes).write(to: URL(filePath: path))
            do {
                _ = try daemon.generations.swap(to: path, allowSchemaChange: allowSchemaChange)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        var cases: [(String, String)] = [
            (refuse(Array(good.prefix(good.count / 2)), "truncated"), "truncated"),
            (refuse([UInt8](repeating: 0x42, count: 4096), "junk"), "junk"),
            (refuse([], "empty"), "empty"),
        ]
        for offset in stride(from: 7, to: good.count, by: max(1, good.count / 40)) {
            var flipped = good
            flipped[offset] ^= 0x10
            cases.append((refuse(flipped, "flipped-\(offset)"), "flipped byte at \(offset)"))
        }
        for (result, what) in cases {
            #expect(result.hasPrefix("refusing snapshot"), "\(what): \(result)")
            #expect(daemon.generations.current?.id == GenerationID(1), "\(what) changed the serving generation")
        }
        // A schema change needs the operator's word.
        var changed = try ManifestBuilder(path: Self.root.appending(path: "examples/generation/manifest-retrained.toml").path).build()
        changed.generationID = 3
        changed.intents = changed.intents.map { IntentSchema(name: $0.name, id: $0.id, featureNames: $0.featureNames.reversed()) }
        let schema = refuse(try SnapshotWriter.encode(changed), "schema")
        #expect(schema.contains("allow-schema-change") || schema.contains("schema"), "\(schema)")
        #expect(daemon.generations.current?.id == GenerationID(1))
        // A missing file is named too.
        #expect(throws: (any Error).self) { try daemon.generations.swap(to: "\(dir)/nowhere", allowSchemaChange: false) }
        #expect(daemon.generations.current?.id == GenerationID(1))
        // And the good one goes through afterwards.
        _ = try daemon.generations.swap(to: Self.files.gen2, allowSchemaChange: false)
        #expect(daemon.generations.current?.id == GenerationID(2))
    }

    /// A restart serves the last generation published, from the state
    /// directory, even when the configured file says otherwise; a rollback is
    /// remembered the same way.
    @Test func aRestartServesTheLastGoodGeneration() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let daemon = Self.daemon(dir, state: try StateDirectory(path: "\(dir)/state"), workers: 1)
            try daemon.start()
            _ = try daemon.generations.swap(to: Self.files.gen2, allowSchemaChange: false)
            daemon.stop()
        }
        do {
            let daemon = Self.daemon(dir, state: try StateDirectory(path: "\(dir)/state"), workers: 1)
            try daemon.start()
            #expect(daemon.generations.current?.id == GenerationID(2))
            _ = try daemon.generations.swap(to: Self.files.gen1, allowSchemaChange: false)
            _ = try daemon.generations.rollback()
            #expect(daemon.generations.current?.id == GenerationID(2))
            daemon.stop()
        }
        let daemon = Self.daemon(dir, state: try StateDirectory(path: "\(dir)/state"), workers: 1)
        try daemon.start()
        defer { daemon.stop() }
        #expect(daemon.generations.current?.id == GenerationID(2))
    }

    /// The io_uring and the plain-read loader give the daemon the same generation.
    @Test func ioUringAndPlainReadsServeTheSameGeneration() throws {
        let viaRing = try SnapshotLoader(io: .ioUring).load(Self.files.gen2)
        let viaRead = try SnapshotLoader(io: .plainRead).load(Self.files.gen2)
        #expect(viaRing.reader == .ioUring && viaRead.reader == .plainRead)
        #expect(viaRing.contentHash == viaRead.contentHash)
        let a = try Generation(snapshot: viaRing, origin: "ring"), b = try Generation(snapshot: viaRead, origin: "read")
        #expect(a.intents == b.intents && a.routing.predictors == b.routing.predictors)
        for canary in viaRing.canaries {
            let x = canary.features
            let sa = x.withUnsafeBufferPointer { a.routing.score(tenant: a.routing.tenantID(canary.tenant)!, intent: a.routing.intentID(canary.intent)!, features: $0) }
            let sb = x.withUnsafeBufferPointer { b.routing.score(tenant: b.routing.tenantID(canary.tenant)!, intent: b.routing.intentID(canary.intent)!, features: $0) }
            #expect(sa == sb)
        }
    }
}
