#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseIPC
import MuseScoring
import Testing
@testable import MuseServer

/// The worker's batch scorer behind a real drain: the drain hands it checked
/// batches, it answers with the primary and counts every answer, shadow score,
/// sketch bin and alert exactly as scoring each event alone would.
@Suite(.serialized)
struct WorkerScorerTests {
    init() { Log.muted.store(true, ordering: .relaxed) }

    /// Event `i`: mostly good "pay" events (7, two features), with an
    /// unknown intent every 7th, a wrong feature count every 11th and a
    /// missing value every 13th, so batches hold several runs and refusals.
    static func event(_ i: UInt64) -> (intent: UInt32, features: [Double]) {
        if i % 7 == 3 { return (9, ShadowGateTests.features(i)) }
        if i % 11 == 5 { return (7, [0.5]) }
        var x = ShadowGateTests.features(i)
        if i % 13 == 1 { x[1] = .nan }
        return (7, x)
    }

    @Test func batchesAreScoredAndCountedAsEventByEvent() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let segment = try Segment.create(path: "\(dir)/acme.muse", tenant: "acme", groupID: nil,
                                         layout: try SegmentLayout(channelCount: 1, ringDepth: 64, maxFeatures: 4))
        try segment.publishIntents(ShadowGateTests.intents)
        var client = muse_client()
        try #require(muse_open(&client, "\(dir)/acme.muse") == MUSE_OK)
        defer { muse_close(&client) }
        var channel = muse_channel()
        try #require(muse_claim(&client, &channel) == MUSE_OK)

        let generation = try ShadowGateTests.serving(tenants: ["acme"])
        let serving = Serving(generation: generation, tenants: ["acme"])
        let tally = ShadowTally()
        tally.reset(generation: 10, tenants: 1, predictors: generation.routing.predictors.count)
        let sketches = WorkerSketches()
        let layout = MetricsLayout(tenants: ["acme"], capacity: 1)
        let metrics = WorkerMetrics(layout: layout)
        let scorer = WorkerScorer(serving: serving, tally: tally, sketches: sketches, alertThresholds: [[0.5, 0.8]],
                                  metrics: metrics)
        var endpoint = ChannelEndpoint(segment: segment, channel: ChannelIndex(Int(channel.index)), tenant: TenantIndex(0))
        let scratch = DrainScratch(events: 64, maxFeatures: 4)
        defer { scratch.deallocate() }

        let total: UInt64 = 3000
        var sent: UInt64 = 0
        var answers: [muse_completion] = []
        var done = [muse_completion](repeating: muse_completion(), count: 64)
        while UInt64(answers.count) < total {
            // Uneven batches: a few events, then up to the ring's depth.
            let burst = 1 + Int(sent % 61)
            for _ in 0..<burst where sent < total {
                var (intent, x) = Self.event(sent)
                guard muse_submit(&channel, sent, intent, &x, UInt32(x.count)) == MUSE_OK else { break }
                sent += 1
            }
            _ = endpoint.drain(limit: 64, scorer: scorer, scratch: scratch)
            let n = muse_poll(&channel, &done, 64)
            answers += done[0..<Int(n)]
        }

        // What each event alone gives, and what counting it alone records.
        let routing = generation.routing
        var primarySketch = ScoreSketch()
        var shadowSketches: [PredictorIndex: ScoreSketch] = [:]
        var shadowRecords: [PredictorIndex: ShadowRecord] = [:]
        var alerts = [0, 0]
        var statuses: [Int32: UInt64] = [:]
        var checked: UInt64 = 0
        for (i, answer) in answers.enumerated() {
            #expect(answer.tag == UInt64(i))
            statuses[answer.status, default: 0] += 1
            let (intent, x) = Self.event(UInt64(i))
            let alone = x.withUnsafeBufferPointer {
                serving.score(tenant: TenantIndex(0), intent: IntentID(intent), features: $0)
            }
            let expected: Int32 = intent != 7 ? CompletionStatus.unknownIntent.rawValue
                : x.count != 2 ? CompletionStatus.featureCount.rawValue : alone.status.rawValue
            #expect(answer.status == expected, "event \(i)")
            guard intent == 7 && x.count == 2 else { continue }
            checked += 1
            if answer.status == CompletionStatus.ok.rawValue {
                #expect(answer.score.bitPattern == alone.score.bitPattern && answer.raw_score.bitPattern == alone.rawScore.bitPattern)
                primarySketch.add(answer.raw_score)
                if answer.score >= 0.5 { alerts[0] += 1 }
                if answer.score >= 0.8 { alerts[1] += 1 }
            }
            // Shadows score every checked event, whatever the primary answered.
            x.withUnsafeBufferPointer { f in
                routing.scoreShadows(tenant: 0, intent: 0, features: f) { s in
                    shadowSketches[s.predictor, default: ScoreSketch()].add(s.raw)
                    shadowRecords[s.predictor, default: ShadowRecord()].add(s.score,
                                                                           edges: generation.decileEdges(tenant: "acme", predictor: s.predictor))
                }
            }
        }
        // Refused events are answered too, and are in no sketch.
        #expect(statuses[CompletionStatus.unknownIntent.rawValue, default: 0] > 0)
        #expect(statuses[CompletionStatus.featureCount.rawValue, default: 0] > 0)

        let cells = Dictionary(uniqueKeysWithValues: sketches.all.map { ($0.cell.key.predictor, $0.cell.read()) })
        // Compared as a Bool: a failing sketch comparison would print 5,000 bins.
        let primarySame = cells["old"] == primarySketch
        #expect(primarySame, "old: \(cells["old"]?.count ?? 0) counted, \(primarySketch.count) answered OK")
        #expect(primarySketch.count == statuses[0])
        for name in ["fitted", "raw"] {
            let p = routing.predictorIndex(named: name)!
            let same = cells[name] == shadowSketches[p]
            #expect(same, "\(name): \(cells[name]?.count ?? 0) counted, \(shadowSketches[p]?.count ?? 0) scored")
            #expect(shadowSketches[p].map { $0.count + $0.nonFinite } == checked)
        }
        let (_, tallied) = tally.snapshot()
        for (p, record) in shadowRecords {
            let got = tallied[ShadowKey(tenant: 0, predictor: p)]
            #expect(got?.deciles == record.deciles && got?.count == record.count)
            #expect(got?.sum.bitPattern == record.sum.bitPattern, "summed in event order")
        }
        let alertCounts = sketches.alertTotals().filter { $0.predictor == "old" }.sorted { $0.threshold < $1.threshold }.map(\.count)
        #expect(alertCounts == alerts.map(UInt64.init))
        // Every answer counted by status in the metrics cell, and one batch-size entry per batch.
        let counts = try #require(metrics.currentGeneration)
        for (status, n) in statuses {
            let slot = status == CompletionStatus.unknownIntent.rawValue ? counts.column(of: IntentID(9)) : counts.column(of: IntentID(7))
            #expect(metrics.events.load(MetricsLayout.eventIndex(tenant: 0, column: slot, status: Int(status))) == n, "status \(status)")
        }
        #expect(metrics.histograms(tenant: 0).batchSums.reduce(0, +) == total)
    }
}
