#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import Synchronization
import Testing
@testable import MuseIPC

/// Scores the features' sum, so every answer can be checked exactly.
struct SumScorer: EventScorer {
    let intents = IntentBounds(ChannelEndpointTests.intents)
    var generationID: GenerationID { GenerationID(5) }
    func score(_ batch: EventBatch) {
        for k in 0..<batch.count where batch.isChecked(k) {
            batch.verdicts[k] = Verdict(status: .ok, score: batch.row(k).reduce(0, +), rawScore: Double(batch.intent(k).rawValue),
                                        predictor: PredictorID(9), generation: generationID)
        }
    }
}

/// Client (muse.h) and daemon (ChannelEndpoint) in one process, on two threads:
/// the test the script runs under ThreadSanitizer.
struct ChannelEndpointTests {
    static let intents = [IntentSchema(name: "sum", id: 1, featureNames: ["a", "b", "c"])]

    final class Fixture {
        let dir = temporaryDirectory()
        let segment: Segment
        var client = muse_client()
        init(depth: Int = 16, channels: Int = 2) throws {
            segment = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil,
                                         layout: try SegmentLayout(channelCount: channels, ringDepth: depth, maxFeatures: 8))
            try segment.publishIntents(ChannelEndpointTests.intents)
            precondition(muse_open(&client, "\(dir)/t.muse") == MUSE_OK)
        }
        deinit {
            muse_close(&client)
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test func clientAndDaemonThreadsExchangeEveryEventInOrder() throws {
        let fixture = try Fixture()
        var channel = muse_channel()
        try #require(muse_claim(&fixture.client, &channel) == MUSE_OK)
        let total: UInt64 = 200_000
        let done = Atomic<Bool>(false)
        let daemon = Thread { [segment = fixture.segment] in
            var endpoint = ChannelEndpoint(segment: segment, channel: ChannelIndex(0), tenant: TenantIndex(0))
            let scorer = SumScorer()
            let scratch = DrainScratch(events: 64, maxFeatures: 8)
            defer { scratch.deallocate() }
            while !done.load(ordering: .acquiring) {
                _ = endpoint.drain(limit: 7, scorer: scorer, scratch: scratch)
            }
        }
        daemon.start()
        defer { done.store(true, ordering: .releasing) }
        var sent: UInt64 = 0, received: UInt64 = 0
        var completions = [muse_completion](repeating: muse_completion(), count: 32)
        var mismatches = 0
        while received < total {
            while sent < total {
                var x = [Double(sent), 1, 2]
                if muse_submit(&channel, sent, 1, &x, 3) != MUSE_OK { break }
                sent += 1
            }
            var n = 0
            let status = muse_wait(&channel, &completions, 32, &n, 1_000_000_000)
            try #require(status == MUSE_OK)
            for c in completions[0..<n] {
                // FIFO per channel: completions come back in submission order.
                if c.tag != received || c.status != 0 || c.score != Double(received) + 3 || c.generation_id != 5 {
                    mismatches += 1
                }
                received += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test func inconsistentIndicesAreRefusedNotFollowed() throws {
        let fixture = try Fixture()
        var channel = muse_channel()
        try #require(muse_claim(&fixture.client, &channel) == MUSE_OK)
        var endpoint = ChannelEndpoint(segment: fixture.segment, channel: ChannelIndex(0), tenant: TenantIndex(0))
        let scorer = SumScorer()
        let scratch = DrainScratch(events: 64, maxFeatures: 8)
        defer { scratch.deallocate() }
        let control = fixture.segment.control(0)
        // A tail far past the head: more "pending" than the ring holds.
        muse__atomic_store_release_u64(&control.pointee.sq_tail, endpoint.head + 17)
        #expect(endpoint.drain(limit: 64, scorer: scorer, scratch: scratch) == 0)
        #expect(endpoint.fault == MUSE_E_CORRUPT && control.pointee.fault == MUSE_E_CORRUPT.rawValue)
        // A tail behind the head (wraps to a huge count) is refused the same way.
        muse__atomic_store_release_u64(&control.pointee.sq_tail, endpoint.head &- 1)
        #expect(endpoint.drain(limit: 64, scorer: scorer, scratch: scratch) == 0)
        // A feature count larger than a slot is answered with a status, never copied.
        muse__atomic_store_release_u64(&control.pointee.sq_tail, endpoint.head)
        var x = [1.0, 2, 3]
        #expect(muse_submit(&channel, 77, 1, &x, 3) == MUSE_OK)
        let slot = UnsafeMutableRawPointer(control) + fixture.segment.layout.submissionRingOffset
            + Int(endpoint.head & 15) * fixture.segment.layout.submissionSlotSize
        slot.assumingMemoryBound(to: muse_event_header.self).pointee.feature_count = .max
        #expect(endpoint.drain(limit: 64, scorer: scorer, scratch: scratch) == 1)
        var completion = muse_completion()
        #expect(muse_poll(&channel, &completion, 1) == 1)
        #expect(completion.tag == 77 && completion.status == Int32(MUSE_E_FEATURE_COUNT.rawValue) && completion.score.isNaN)
    }

    @Test func aChannelWhoseOwnerVanishedIsReclaimedAndAStillHeldOneIsNot() throws {
        let fixture = try Fixture()
        var endpoint = ChannelEndpoint(segment: fixture.segment, channel: ChannelIndex(0), tenant: TenantIndex(0))
        // A second open file description: its OFD lock conflicts with ours.
        var other = muse_client()
        try #require(muse_open(&other, "\(fixture.dir)/t.muse") == MUSE_OK)
        var channel = muse_channel()
        try #require(muse_claim(&other, &channel) == MUSE_OK && channel.index == 0)
        var x = [1.0, 2, 3]
        #expect(muse_submit(&channel, 1, 1, &x, 3) == MUSE_OK)
        let whileHeld = endpoint.reclaimIfAbandoned()
        #expect(!whileHeld, "the owner still holds its lock")
        muse_close(&other) // the lock goes with the file description, as at process death
        let afterDeath = endpoint.reclaimIfAbandoned()
        #expect(afterDeath)
        let control = fixture.segment.control(0)
        #expect(control.pointee.state == UInt32(MUSE_CHANNEL_FREE))
        #expect(control.pointee.sq_tail == endpoint.head && control.pointee.cq_head == endpoint.head)
        let whenFree = endpoint.reclaimIfAbandoned()
        #expect(!whenFree, "a free, quiescent channel is left alone")
        var again = muse_channel()
        #expect(muse_claim(&fixture.client, &again) == MUSE_OK && again.index == 0)
    }

    /// A scorer's non-finite result is never an OK answer.
    struct InfiniteScorer: EventScorer {
        let intents = IntentBounds(ChannelEndpointTests.intents)
        var generationID: GenerationID { GenerationID(8) }
        func score(_ batch: EventBatch) {
            for k in 0..<batch.count where batch.isChecked(k) {
                let x = batch.row(k)[0]
                batch.verdicts[k] = Verdict(status: .ok, score: x, rawScore: x == 2 ? .nan : 0.5, predictor: PredictorID(3),
                                            generation: generationID)
            }
        }
    }

    @Test func aNonFiniteScoreBecomesBadScore() throws {
        let fixture = try Fixture()
        var channel = muse_channel()
        try #require(muse_claim(&fixture.client, &channel) == MUSE_OK)
        var endpoint = ChannelEndpoint(segment: fixture.segment, channel: ChannelIndex(Int(channel.index)), tenant: TenantIndex(0))
        let scorer = InfiniteScorer()
        let scratch = DrainScratch(events: 64, maxFeatures: 8)
        defer { scratch.deallocate() }
        for (tag, first) in ([Double.infinity, -Double.infinity, 2, 0.25] as [Double]).enumerated() {
            var x = [first, 0, 0]
            #expect(muse_submit(&channel, UInt64(tag), 1, &x, 3) == MUSE_OK)
        }
        #expect(endpoint.drain(limit: 8, scorer: scorer, scratch: scratch) == 4)
        var done = [muse_completion](repeating: muse_completion(), count: 4)
        #expect(muse_poll(&channel, &done, 4) == 4)
        let bad = Int32(MUSE_E_BAD_SCORE.rawValue)
        #expect(done.map(\.status) == [bad, bad, bad, 0])
        #expect(done[0].score.isNaN && done[0].predictor_id == 3 && done[0].generation_id == 8)
        #expect(done[3].score == 0.25 && done[3].raw_score == 0.5)
    }

    /// Keeps what the drain showed it: each batch's events, their checks
    /// and runs, and whether the answers were out when `answered` came.
    final class RecordingScorer: EventScorer {
        let intents = IntentBounds(ChannelEndpointTests.intents + [IntentSchema(name: "two", id: 2, featureNames: ["a", "b"])])
        var generationID: GenerationID { GenerationID(4) }
        let control: UnsafeMutablePointer<muse_channel_control>
        var seen: [(tag: UInt64, intent: UInt32, row: [Double]?)] = []
        var runs: [(start: Int, count: Int, intent: UInt32)] = []
        var answered: [(status: CompletionStatus, published: UInt64)] = []
        init(control: UnsafeMutablePointer<muse_channel_control>) { self.control = control }

        func score(_ batch: EventBatch) {
            for k in 0..<batch.count {
                seen.append((batch.tag(k), batch.intent(k).rawValue, batch.isChecked(k) ? Array(batch.row(k)) : nil))
            }
            var k = 0
            while let run = batch.run(from: k) {
                runs.append((run.start, run.count, run.intent.rawValue))
                for i in 0..<run.count {
                    let x = run.row(i)
                    run.verdicts[i] = Verdict(status: .ok, score: x[0], rawScore: x[0], predictor: PredictorID(1), generation: generationID)
                }
                k = run.end
            }
        }

        func answered(_ batch: EventBatch) {
            let published = muse__atomic_load_acquire_u64(&control.pointee.cq_tail)
            for k in 0..<batch.count { answered.append((batch.verdicts[k].status, published)) }
        }
    }

    /// The scorer gets one batch of checked events (tags, intents, rows read
    /// once), scores it a run of one intent at a time, and sees the final
    /// verdicts only once the completions are published.
    @Test func theScorerSeesACheckedBatchThenItsPublishedAnswers() throws {
        let fixture = try Fixture()
        try fixture.segment.publishIntents(ChannelEndpointTests.intents + [IntentSchema(name: "two", id: 2, featureNames: ["a", "b"])])
        var channel = muse_channel()
        try #require(muse_claim(&fixture.client, &channel) == MUSE_OK)
        var endpoint = ChannelEndpoint(segment: fixture.segment, channel: ChannelIndex(Int(channel.index)), tenant: TenantIndex(0))
        let scorer = RecordingScorer(control: fixture.segment.control(Int(channel.index)))
        let scratch = DrainScratch(events: 64, maxFeatures: 8)
        defer { scratch.deallocate() }
        // (tag, intent, features): two "sum", an unknown intent, a wrong count,
        // two "two", a "sum" whose score is not finite, one more "sum".
        let events: [(UInt64, UInt32, [Double])] = [(10, 1, [1, 2, 3]), (11, 1, [4, 5, 6]), (12, 9, [1, 2, 3]),
                                                    (13, 1, [1, 2]), (14, 2, [7, 8]), (15, 2, [9, 10]),
                                                    (16, 1, [.infinity, 0, 0]), (17, 1, [0.5, 0, 0])]
        for (tag, intent, x) in events {
            var x = x
            try #require(muse_submit(&channel, tag, intent, &x, UInt32(x.count)) == MUSE_OK)
        }
        let head = endpoint.head
        #expect(endpoint.drain(limit: 64, scorer: scorer, scratch: scratch) == 8)
        #expect(scorer.seen.map(\.tag) == events.map(\.0) && scorer.seen.map(\.intent) == events.map(\.1))
        #expect(scorer.seen.map { $0.row != nil } == [true, true, false, false, true, true, true, true])
        #expect(scorer.seen[5].row == [9, 10] && scorer.seen[0].row == [1, 2, 3])
        #expect(scorer.runs.map { [$0.start, $0.count, Int($0.intent)] } == [[0, 2, 1], [4, 2, 2], [6, 2, 1]])
        // After publication: every event's final verdict, the drain's refusals and `.badScore` included.
        #expect(scorer.answered.map(\.status) == [.ok, .ok, .unknownIntent, .featureCount, .ok, .ok, .badScore, .ok])
        #expect(scorer.answered.allSatisfy { $0.published == head + 8 })
        var done = [muse_completion](repeating: muse_completion(), count: 8)
        #expect(muse_poll(&channel, &done, 8) == 8)
        #expect(done.map(\.tag) == events.map(\.0) && done[7].score == 0.5 && done[2].generation_id == 4)
    }

    /// A channel released with an event in flight is free again after the
    /// daemon's next drain, not its next housekeeping.
    @Test func aReleasedChannelIsFreedOnTheNextDrain() throws {
        let fixture = try Fixture(channels: 1)
        var channel = muse_channel()
        try #require(muse_claim(&fixture.client, &channel) == MUSE_OK)
        var endpoint = ChannelEndpoint(segment: fixture.segment, channel: ChannelIndex(0), tenant: TenantIndex(0))
        let scorer = SumScorer()
        let scratch = DrainScratch(events: 64, maxFeatures: 8)
        defer { scratch.deallocate() }
        var x = [1.0, 2, 3]
        #expect(muse_submit(&channel, 1, 1, &x, 3) == MUSE_OK)
        muse_release(&channel)
        let control = fixture.segment.control(0)
        #expect(control.pointee.state == UInt32(MUSE_CHANNEL_RELEASED))
        var again = muse_channel()
        #expect(muse_claim(&fixture.client, &again) == MUSE_E_NO_CHANNEL)
        _ = endpoint.drain(limit: 8, scorer: scorer, scratch: scratch)
        #expect(control.pointee.state == UInt32(MUSE_CHANNEL_FREE))
        #expect(muse_claim(&fixture.client, &again) == MUSE_OK)
        // Released with nothing in flight: free at once, by the client itself.
        muse_release(&again)
        #expect(control.pointee.state == UInt32(MUSE_CHANNEL_FREE))
    }
}
