#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseIPC
import MuseScoring
import Synchronization
import Testing
@testable import MuseServer

/// The serving object and its atomic publication, with a real daemon (in
/// process) and real muse.h clients on threads.
@Suite(.serialized)
struct GenerationSwapTests {
    init() { Log.muted.store(true, ordering: .relaxed) }

    static let intents = [IntentSchema(name: "pay", id: 7, featureNames: ["a", "b", "c"])]

    /// A generation whose score is logistic(a + b + c + offset): each id gets
    /// its own offset, so an answer shows which generation computed it.
    static func generation(_ id: UInt64, tenants: [String]) throws -> Generation {
        var builder = RoutingTableBuilder()
        let model = try LogisticModel(featureNames: ["a", "b", "c"], coefficients: [1, 1, 1], intercept: offset(id))
        try builder.addModel("m", model)
        try builder.addPredictor("p", members: [(model: "m", weight: 1)])
        for tenant in tenants { try builder.route(tenant: tenant, intent: "pay", to: "p") }
        return try Generation(id: GenerationID(id), routing: builder.build(), intents: intents, origin: "test")
    }

    static func offset(_ id: UInt64) -> Double { Double(id % 17) - 8 }

    /// A daemon serving tenant "t" generation 1, started in `dir`/run.
    static func startedDaemon(in dir: String) throws -> Daemon {
        let config = DaemonConfiguration(runtimeDirectory: "\(dir)/run", tenants: [TenantConfiguration(name: "t")])
        let daemon = Daemon(configuration: config) { try Self.generation(1, tenants: $0) }
        try daemon.start()
        return daemon
    }

    static func runtimeDirectory() -> String {
        var template = Array("/tmp/muse-server-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    @Test func servingMapsTenantsAndIntentsAndRefusesWhatItDoesNotRoute() throws {
        let generation = try Self.generation(3, tenants: ["acme"])
        let serving = Serving(generation: generation, tenants: ["globex", "acme"])
        #expect(serving.unroutedTenants == ["globex"])
        #expect(serving.intents.featureCount(of: IntentID(7)) == 3)
        #expect(serving.intents.featureCount(of: IntentID(8)) == nil)
        let x: [Double] = [0.5, -1, 2]
        let verdict = x.withUnsafeBufferPointer { serving.score(tenant: TenantIndex(1), intent: IntentID(7), features: $0) }
        #expect(verdict.status == .ok && verdict.generation == GenerationID(3) && verdict.predictor == PredictorID(1))
        #expect(verdict.score == 1 / (1 + exp(-(Self.offset(3) + 0.5 + -1 + 2))))
        let unrouted = x.withUnsafeBufferPointer { serving.score(tenant: TenantIndex(0), intent: IntentID(7), features: $0) }
        #expect(unrouted.status == .noRoute && unrouted.score.isNaN)
        // A tenant index from nowhere is a refusal, not a trap.
        let stray = x.withUnsafeBufferPointer { serving.score(tenant: TenantIndex(99), intent: IntentID(7), features: $0) }
        #expect(stray.status == .noRoute)
        #expect(throws: GenerationError.self) { try Generation(id: .none, routing: generation.routing, intents: [], origin: "x") }
    }

    /// A generation a segment cannot describe is refused before any worker sees it.
    @Test func aGenerationSegmentsCannotShowIsRefusedBeforePublication() throws {
        let dir = Self.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try Self.startedDaemon(in: dir)
        defer { daemon.stop() }
        var builder = RoutingTableBuilder()
        try builder.addModel("m", LogisticModel(featureNames: ["a\nb"], coefficients: [1], intercept: 0))
        try builder.addPredictor("p", members: [(model: "m", weight: 1)])
        try builder.route(tenant: "t", intent: "pay", to: "p")
        let bad = try Generation(id: GenerationID(2), routing: builder.build(),
                                 intents: [IntentSchema(name: "pay", id: 7, featureNames: ["a\nb"])], origin: "test")
        #expect(throws: SegmentError.self) { try daemon.generations.publish(bad) }
        #expect(daemon.generations.current?.id == GenerationID(1))
    }

    /// An intent the next generation drops is answered MUSE_E_UNKNOWN_INTENT
    /// from the swap on (never scored by a model it no longer routes), the
    /// segment's intent table loses it, and the header names the new generation.
    @Test func anIntentASwapDropsIsAnsweredUnknownAndLeavesTheTable() throws {
        let dir = Self.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try Self.startedDaemon(in: dir)
        defer { daemon.stop() }
        func generation(_ id: UInt64, refunds: Bool) throws -> Generation {
            var builder = RoutingTableBuilder()
            try builder.addModel("m", LogisticModel(featureNames: ["a", "b", "c"], coefficients: [1, 1, 1], intercept: 0))
            try builder.addPredictor("p", members: [(model: "m", weight: 1)])
            try builder.route(tenant: "t", intent: "pay", to: "p")
            var intents = Self.intents
            if refunds {
                try builder.route(tenant: "t", intent: "refund", to: "p")
                intents.append(IntentSchema(name: "refund", id: 8, featureNames: ["a", "b", "c"]))
            }
            return try Generation(id: GenerationID(id), routing: builder.build(), intents: intents, origin: "test")
        }
        try daemon.generations.publish(generation(2, refunds: true))

        var client = muse_client()
        try #require(muse_open_tenant(&client, "\(dir)/run", "t") == MUSE_OK)
        defer { muse_close(&client) }
        var channel = muse_channel()
        try #require(muse_claim(&client, &channel) == MUSE_OK)
        defer { muse_release(&channel) }
        var info = muse_intent_info()
        #expect(muse_lookup_intent(&client, "refund", &info) == MUSE_OK && info.id == 8)
        func answer(_ intent: UInt32) -> muse_completion? {
            var x: [Double] = [0.5, 0.25, -1]
            guard muse_submit(&channel, 1, intent, &x, 3) == MUSE_OK else { return nil }
            var done = [muse_completion](repeating: muse_completion(), count: 1)
            var n = 0
            guard muse_wait(&channel, &done, 1, &n, 2_000_000_000) == MUSE_OK, n == 1 else { return nil }
            return done[0]
        }
        let before = try #require(answer(8))
        #expect(before.status == MUSE_OK.rawValue && before.generation_id == 2)

        try daemon.generations.publish(generation(3, refunds: false))
        let after = try #require(answer(8))
        #expect(after.status == MUSE_E_UNKNOWN_INTENT.rawValue, "status \(after.status), score \(after.score)")
        #expect(muse_lookup_intent(&client, "refund", &info) == MUSE_E_UNKNOWN_INTENT)
        #expect(muse__atomic_load_acquire_u64(&client.header.pointee.generation_id) == 3)
        // The intent it kept is still served, by the new generation.
        let kept = try #require(answer(7))
        #expect(kept.status == MUSE_OK.rawValue && kept.generation_id == 3 && kept.score == 1 / (1 + exp(-(0.5 + 0.25 - 1))))
    }

    /// Clients of three tenants submit continuously while 200 generations are
    /// published: every event is answered once, in order, by exactly one
    /// generation, with that generation's score.
    @Test func everyEventIsScoredWhollyByOneGenerationAcrossSwaps() throws {
        let dir = Self.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tenants = ["t1", "t2", "t3"]
        let config = DaemonConfiguration(runtimeDirectory: "\(dir)/run",
                                         tenants: tenants.map { TenantConfiguration(name: $0, channels: 2, ringDepth: 32) },
                                         workers: 2, spinNanoseconds: 50_000)
        let daemon = Daemon(configuration: config) { try Self.generation(1, tenants: $0) }
        try daemon.start()
        defer { daemon.stop() }
        let stop = Atomic<Bool>(false)
        let failures = Atomic<Int>(0), answered = Atomic<Int>(0)
        let seen = Locked<Set<UInt64>>([])
        let problems = Locked<[String]>([])
        @Sendable func fail(_ problem: String) {
            failures.add(1, ordering: .relaxed)
            problems.withLock { if $0.count < 10 { $0.append(problem) } }
        }
        var threads: [Thread] = []
        for (i, tenant) in tenants.enumerated() {
            let thread = Thread {
                var client = muse_client()
                guard muse_open_tenant(&client, "\(dir)/run", tenant) == MUSE_OK else { fail("\(tenant): open"); return }
                defer { muse_close(&client) }
                var channel = muse_channel()
                guard muse_claim(&client, &channel) == MUSE_OK else { fail("\(tenant): claim"); return }
                var sent: UInt64 = 0, received: UInt64 = 0
                var done = [muse_completion](repeating: muse_completion(), count: 16)
                var generationsSeen = Set<UInt64>()
                while !stop.load(ordering: .relaxed) || received < sent {
                    while !stop.load(ordering: .relaxed) && sent - received < 48 {
                        var x = [Double(sent % 100) / 10, Double(i), -1]
                        guard muse_submit(&channel, sent, 7, &x, 3) == MUSE_OK else { break }
                        sent += 1
                    }
                    // `stop` may have turned between the two loop tests: then
                    // nothing is in flight and there is nothing to wait for.
                    if received == sent { continue }
                    var n = 0
                    let status = muse_wait(&channel, &done, 16, &n, 2_000_000_000)
                    guard status == MUSE_OK else {
                        fail("\(tenant): wait \(String(cString: muse_strerror(Int32(bitPattern: status.rawValue)))) after \(received) of \(sent)")
                        return
                    }
                    for c in done[0..<n] {
                        // The model's own order: intercept, then the features.
                        let margin = Self.offset(c.generation_id) + Double(c.tag % 100) / 10 + Double(i) + -1
                        if c.tag != received || c.status != 0 || c.score != 1 / (1 + exp(-margin)) {
                            fail("\(tenant): tag \(c.tag) (expected \(received)) status \(c.status) generation \(c.generation_id) score \(c.score)")
                        }
                        generationsSeen.insert(c.generation_id)
                        received += 1
                    }
                }
                answered.add(Int(received), ordering: .relaxed)
                seen.withLock { $0.formUnion(generationsSeen) }
            }
            threads.append(thread)
            thread.start()
        }
        for id in 2...201 as ClosedRange<UInt64> {
            try daemon.generations.publish(Self.generation(id, tenants: tenants))
            #expect(daemon.generations.current?.id == GenerationID(id))
            usleep(2000)
        }
        stop.store(true, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(30)
        while answered.load(ordering: .relaxed) == 0 || threads.contains(where: { !$0.isFinished }) {
            if Date() > deadline { break }
            usleep(10_000)
        }
        #expect(failures.load(ordering: .relaxed) == 0, "\(problems.withLock { $0 })")
        #expect(answered.load(ordering: .relaxed) > 10_000)
        // Traffic really crossed many generations.
        #expect(seen.withLock { $0.count } > 50)
    }
}
