#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseIPC
import MuseScoring
import Testing
@testable import MuseServer

/// Shadow predictors score live traffic without answering it, and the
/// promotion gate judges a candidate on that record.
@Suite(.serialized)
struct ShadowGateTests {
    init() { Log.muted.store(true, ordering: .relaxed) }

    static let intents = [IntentSchema(name: "pay", id: 7, featureNames: ["a", "b"])]

    /// The features event `i` carries: a spread the maps are fitted on.
    static func features(_ i: UInt64) -> [Double] {
        [Double(i % 1000) / 250 - 2, Double((i * 7919) % 613) / 300 - 1]
    }

    static func model(_ intercept: Double) throws -> LogisticModel {
        try LogisticModel(featureNames: ["a", "b"], coefficients: [1.5, -0.7], intercept: intercept)
    }

    /// Serving: primary "old"; shadows "fitted" (its map fitted on this very
    /// traffic, so its transformed scores follow the reference) and "raw" (no map).
    static func serving(tenants: [String]) throws -> Generation {
        var builder = RoutingTableBuilder()
        try builder.addModel("old", model(0))
        try builder.addModel("new", model(-2))
        try builder.addPredictor("old", members: [(model: "old", weight: 1)])
        try builder.addPredictor("fitted", members: [(model: "new", weight: 1)])
        try builder.addPredictor("raw", members: [(model: "new", weight: 1)])
        let sample = try (0..<5000 as Range<UInt64>).map { i in
            try features(i).withUnsafeBufferPointer { try model(-2).probability($0) }
        }
        let map = try QuantileMapFitter(reference: .uniform).fit(sample)
        for tenant in tenants {
            builder.setMap(map, predictor: "fitted", tenant: tenant)
            try builder.route(tenant: tenant, intent: "pay", to: "old", shadows: ["fitted", "raw"])
        }
        return try Generation(id: GenerationID(10), routing: builder.build(), intents: intents, origin: "test")
    }

    static func candidate(primary: String, tenants: [String]) throws -> Generation {
        let serving = try serving(tenants: tenants)
        var builder = RoutingTableBuilder()
        try builder.addModel("new", model(-2))
        try builder.addPredictor(primary, members: [(model: "new", weight: 1)])
        for tenant in tenants { try builder.route(tenant: tenant, intent: "pay", to: primary) }
        _ = serving
        return try Generation(id: GenerationID(11), routing: builder.build(), intents: intents, origin: "test")
    }

    @Test func shadowsAreRecordedAndTheGateJudgesTheCandidateOnThem() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = DaemonConfiguration(runtimeDirectory: "\(dir)/run",
                                         tenants: [TenantConfiguration(name: "acme", channels: 1, ringDepth: 64)],
                                         workers: 1)
        let daemon = Daemon(configuration: config) { try Self.serving(tenants: $0) }
        try daemon.start()
        defer { daemon.stop() }
        // Before any traffic, the gate refuses for want of evidence.
        let early = daemon.generations.judge(try Self.candidate(primary: "fitted", tenants: ["acme"]), gate: PromotionGate())
        #expect(early.refusal?.contains("not enough shadowed events") == true)

        var client = muse_client()
        try #require(muse_open_tenant(&client, "\(dir)/run", "acme") == MUSE_OK)
        defer { muse_close(&client) }
        var channel = muse_channel()
        try #require(muse_claim(&client, &channel) == MUSE_OK)
        var received: UInt64 = 0
        var done = [muse_completion](repeating: muse_completion(), count: 32)
        for i in 0..<5000 as Range<UInt64> {
            var x = Self.features(i)
            while muse_submit(&channel, i, 7, &x, 2) == MUSE_E_AGAIN {
                var n = 0
                let st = muse_wait(&channel, &done, 32, &n, 1_000_000_000)
                try #require(st == MUSE_OK, "i=\(i) received=\(received) sq_head=\(channel.control.pointee.sq_head) cq_tail=\(channel.control.pointee.cq_tail) sq_tail=\(channel.control.pointee.sq_tail) fault=\(channel.control.pointee.fault)")
                for c in done[0..<n] {
                    // Answers are the primary's, never a shadow's.
                    let expected = try Self.features(c.tag).withUnsafeBufferPointer { try Self.model(0).probability($0) }
                    #expect(c.status == 0 && c.score == expected && c.predictor_id == 1)
                    received += 1
                }
            }
        }
        while received < 5000 {
            var n = 0
            try #require(muse_wait(&channel, &done, 32, &n, 1_000_000_000) == MUSE_OK)
            received += UInt64(n)
        }
        // The last batch's shadows are scored just after its answers.
        usleep(50_000)
        let shadows = daemon.status().shadows
        let fitted = try #require(shadows.first { $0.predictor == "fitted" })
        let raw = try #require(shadows.first { $0.predictor == "raw" })
        #expect(fitted.events == 5000 && raw.events == 5000)
        #expect((fitted.psi ?? 1) < 0.01, "a map fitted on this traffic follows the reference: \(fitted)")
        #expect((raw.psi ?? 0) > 0.1, "unmapped probabilities are far from uniform: \(raw)")

        let pass = daemon.generations.judge(try Self.candidate(primary: "fitted", tenants: ["acme"]), gate: PromotionGate())
        #expect(pass.refusal == nil && pass.figures.first?.verdict == "pass", "\(pass)")
        let fail = daemon.generations.judge(try Self.candidate(primary: "raw", tenants: ["acme"]), gate: PromotionGate())
        #expect(fail.refusal?.contains("acme/raw: PSI") == true, "\(fail)")
    }
}
