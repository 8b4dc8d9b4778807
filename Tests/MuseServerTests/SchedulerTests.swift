#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseIPC
import Synchronization
import Testing
@testable import MuseServer

/// The worker's fair scheduler and the tenants' rate limiters (issue 11), on
/// real segments and rings, one thread: a muse.h client fills the rings, the
/// scheduler answers rounds, the test reads what came back.
@Suite(.serialized)
struct SchedulerTests {
    /// Answers every event OK with score 0.5.
    struct HalfScorer: EventScorer {
        var generationID: GenerationID { GenerationID(3) }
        let intents = IntentBounds([IntentSchema(name: "one", id: 1, featureNames: ["x"])])
        func score(_ batch: EventBatch) {
            for k in 0..<batch.count where batch.isChecked(k) {
                batch.verdicts[k] = Verdict(status: .ok, score: 0.5, rawScore: 0.5, predictor: PredictorID(1), generation: generationID)
            }
        }
    }

    /// Tenants with segments of their own, every channel claimed by a client.
    final class Fixture {
        let dir: String
        var segments: [Segment] = []
        var clients: [UnsafeMutablePointer<muse_client>] = []
        /// channels[tenant][k]
        var channels: [[UnsafeMutablePointer<muse_channel>]] = []
        var endpoints: EndpointSet
        var tenantOf: [TenantIndex] = []
        let scratch = DrainScratch(events: 64, maxFeatures: 1)

        /// `layout[t]` = (channels, depth) of tenant t.
        init(_ layout: [(Int, Int)]) throws {
            dir = GenerationSwapTests.runtimeDirectory()
            endpoints = EndpointSet(capacity: layout.reduce(0) { $0 + $1.0 })
            for (t, (count, depth)) in layout.enumerated() {
                let path = "\(dir)/t\(t).muse"
                let segment = try Segment.create(path: path, tenant: "t\(t)", groupID: nil,
                                                 layout: try SegmentLayout(channelCount: count, ringDepth: depth, maxFeatures: 1))
                segments.append(segment)
                let client = UnsafeMutablePointer<muse_client>.allocate(capacity: 1)
                client.initialize(to: muse_client())
                precondition(muse_open(client, path) == MUSE_OK)
                clients.append(client)
                var mine: [UnsafeMutablePointer<muse_channel>] = []
                for k in 0..<count {
                    let channel = UnsafeMutablePointer<muse_channel>.allocate(capacity: 1)
                    channel.initialize(to: muse_channel())
                    precondition(muse_claim(client, channel) == MUSE_OK)
                    mine.append(channel)
                    endpoints.append(ChannelEndpoint(segment: segment, channel: ChannelIndex(Int(channel.pointee.index)),
                                                     tenant: TenantIndex(t)))
                    tenantOf.append(TenantIndex(t))
                    _ = k
                }
                channels.append(mine)
            }
        }

        deinit {
            for list in channels { for channel in list { muse_release(channel); channel.deallocate() } }
            for client in clients { muse_close(client); client.deallocate() }
            scratch.deallocate()
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// Submits `n` events (tags from `first`) on tenant t's channel k.
        func submit(_ t: Int, _ k: Int, _ n: Int, first: UInt64 = 0) {
            var x = 1.0
            for i in 0..<n { precondition(muse_submit(channels[t][k], first + UInt64(i), 1, &x, 1) == MUSE_OK) }
        }

        /// Reads what tenant t's channel k has been answered.
        func completions(_ t: Int, _ k: Int) -> [muse_completion] {
            var out: [muse_completion] = []
            var buffer = [muse_completion](repeating: muse_completion(), count: 256)
            while true {
                let n = muse_poll(channels[t][k], &buffer, 256)
                if n == 0 { return out }
                out += buffer[0..<n]
            }
        }

        func scheduler(_ policies: [TenantPolicy], batch: Int = 64) -> FairScheduler {
            FairScheduler(tenants: tenantOf, policies: policies, batchSize: batch)
        }

        func round(_ scheduler: inout FairScheduler) -> Int {
            scheduler.round(&endpoints, scorer: HalfScorer(), scratch: scratch)
        }
    }

    /// A round restricted to the flows that rang answers those tenants'
    /// channels only (the others wait for the full round), each at most one
    /// turn's budget, and carries nothing for a flow that ran out of events.
    @Test func aRoundOfTheRungFlowsAnswersThoseTenantsOnly() throws {
        let fixture = try Fixture([(1, 256), (2, 256), (1, 256)])
        var scheduler = fixture.scheduler([TenantPolicy(), TenantPolicy(), TenantPolicy()], batch: 8)
        // Endpoints: t0 → 0, t1 → 1 and 2, t2 → 3; one flow per tenant.
        #expect(scheduler.flowOfEndpoint == [0, 1, 1, 2])
        fixture.submit(0, 0, 5)
        fixture.submit(1, 0, 20)
        fixture.submit(2, 0, 3)
        let answered = scheduler.round(only: [scheduler.flowOfEndpoint[1]], &fixture.endpoints,
                                       scorer: HalfScorer(), scratch: fixture.scratch)
        #expect(answered == 8)
        #expect(fixture.completions(1, 0).count == 8)
        #expect(fixture.completions(0, 0).isEmpty && fixture.completions(2, 0).isEmpty)
        // Then the full round serves everyone, the rung tenant its next turn.
        #expect(fixture.round(&scheduler) == 5 + 8 + 3)
        #expect(fixture.completions(0, 0).count == 5 && fixture.completions(2, 0).count == 3)
        #expect(fixture.completions(1, 0).count == 8)
        // An index that is no flow is passed over.
        #expect(scheduler.round(only: [7], &fixture.endpoints, scorer: HalfScorer(), scratch: fixture.scratch) == 0)
    }

    @Test func theRateLimiterAdmitsItsBurstThenItsRate() {
        let limiter = TenantRateLimiter(RateLimit(eventsPerSecond: 1000, burst: 50))
        let t0: UInt64 = 5_000_000_000
        #expect(limiter.admit(80, now: t0) == 50)
        #expect(limiter.admit(1, now: t0) == 0)
        // 1,000/s is one event per millisecond, fractions carried.
        #expect(limiter.admit(100, now: t0 + 10_000_000) == 10)
        #expect(limiter.admit(100, now: t0 + 10_500_000) == 0)
        #expect(limiter.admit(100, now: t0 + 11_000_000) == 1)
        // Idle time refills up to the burst, no further.
        #expect(limiter.admit(1000, now: t0 + 10_000_000_000) == 50)
        // A worker whose clock read is older than another's admits nothing
        // and does not wrap around.
        #expect(limiter.admit(10, now: t0) == 0)
        #expect(limiter.admit(0, now: t0 + 20_000_000_000) == 0)
    }

    /// What the log line reports: the refusals since the last report, at
    /// most once a second, and nothing when nothing was refused.
    @Test func refusalsAreReportedOnceASecond() {
        let limiter = TenantRateLimiter(RateLimit(eventsPerSecond: 1000, burst: 50))
        let t0: UInt64 = 5_000_000_000
        #expect(limiter.refusalsToReport(now: t0) == nil)
        #expect(limiter.admit(80, now: t0) == 50)
        #expect(limiter.admit(5, now: t0) == 0)
        #expect(limiter.refusalsToReport(now: t0) == 35)
        #expect(limiter.admit(10, now: t0) == 0)
        #expect(limiter.refusalsToReport(now: t0 + 500_000_000) == nil)  // within the second
        #expect(limiter.refusalsToReport(now: t0 + 1_000_000_000) == 10)
        #expect(limiter.refusalsToReport(now: t0 + 3_000_000_000) == nil)  // nothing new
    }

    /// One bucket for all the workers serving a tenant: threads admitting at
    /// once never exceed burst + rate * elapsed between them.
    @Test func theRateLimiterIsOneBucketAcrossWorkers() {
        let limiter = TenantRateLimiter(RateLimit(eventsPerSecond: 200_000, burst: 1000))
        let admitted = Atomic<Int>(0)
        let start = ThreadSupport.monotonicNanoseconds()
        let threads = (0..<4).map { _ in
            Thread {
                while ThreadSupport.monotonicNanoseconds() - start < 100_000_000 {
                    admitted.add(limiter.admit(7, now: ThreadSupport.monotonicNanoseconds()), ordering: .relaxed)
                }
            }
        }
        threads.forEach { $0.start() }
        while ThreadSupport.monotonicNanoseconds() - start < 150_000_000 { usleep(10_000) }
        usleep(100_000)
        let elapsed = Double(ThreadSupport.monotonicNanoseconds() - start) / 1e9
        let total = admitted.load(ordering: .relaxed)
        #expect(total <= 1000 + Int(200_000 * elapsed) + 1, "admitted \(total) in \(elapsed) s")
        #expect(total >= 1000, "admitted \(total)")
    }

    /// Backlogged tenants of weights 1 and 3 share a worker 1:3, exactly:
    /// the lighter one's fraction of a batch is carried in its deficit.
    @Test func weightsShareAWorkerInProportion() throws {
        let fixture = try Fixture([(1, 1024), (1, 1024)])
        fixture.submit(0, 0, 1000)
        fixture.submit(1, 0, 1000)
        var scheduler = fixture.scheduler([TenantPolicy(weight: 1), TenantPolicy(weight: 3)])
        for _ in 0..<12 { _ = fixture.round(&scheduler) }
        #expect(fixture.completions(0, 0).count == 256)
        #expect(fixture.completions(1, 0).count == 768)
        #expect(scheduler.carried(TenantIndex(0)) == 0)
        _ = fixture.round(&scheduler)
        // 64/3 events a turn: a third of an event is carried while backlogged.
        #expect(abs((scheduler.carried(TenantIndex(0)) ?? 0) - 1.0 / 3) < 1e-9)
    }

    /// A tenant keeping 16 rings full gets one batch per round, not one per
    /// channel, served round-robin over its channels; the one-channel tenant
    /// beside it is answered in the first round.
    @Test func aTenantsTurnDoesNotGrowWithItsChannels() throws {
        let fixture = try Fixture([(16, 64), (1, 64)])
        for k in 0..<16 { fixture.submit(0, k, 64) }
        fixture.submit(1, 0, 1)
        var scheduler = fixture.scheduler([TenantPolicy(), TenantPolicy()])
        #expect(fixture.round(&scheduler) == 64 + 1)
        #expect(fixture.completions(1, 0).count == 1)
        for _ in 1..<16 { #expect(fixture.round(&scheduler) == 64) }
        for k in 0..<16 { #expect(fixture.completions(0, k).count == 64, "channel \(k)") }
        // Nothing left: an idle round answers nothing and carries nothing.
        #expect(fixture.round(&scheduler) == 0)
        #expect(scheduler.carried(TenantIndex(0)) == 0 && scheduler.carried(TenantIndex(1)) == 0)
    }

    /// Over its limit, a tenant's events are answered at once, in order,
    /// each exactly once: OVERLOADED with NaN scores; the others are scored.
    @Test func overLimitEventsAreAnsweredOverloadedInOrder() throws {
        let fixture = try Fixture([(1, 64), (1, 64)])
        fixture.submit(0, 0, 30)
        fixture.submit(1, 0, 30)
        var scheduler = fixture.scheduler([TenantPolicy(weight: 1, rateLimit: RateLimit(eventsPerSecond: 1, burst: 10)),
                                           TenantPolicy()])
        #expect(fixture.round(&scheduler) == 60)
        let limited = fixture.completions(0, 0)
        #expect(limited.map(\.tag) == Array(0..<30))
        #expect(limited.prefix(10).allSatisfy { $0.status == CompletionStatus.ok.rawValue && $0.score == 0.5 })
        #expect(limited.dropFirst(10).allSatisfy {
            $0.status == CompletionStatus.overloaded.rawValue && $0.score.isNaN && $0.raw_score.isNaN && $0.generation_id == 3
        })
        #expect(CompletionStatus.overloaded.rawValue == Int32(bitPattern: MUSE_E_OVERLOADED.rawValue))
        #expect(fixture.completions(1, 0).allSatisfy { $0.status == CompletionStatus.ok.rawValue })
        // Still over: the next events are refused too, none lost.
        fixture.submit(0, 0, 5, first: 30)
        #expect(fixture.round(&scheduler) == 5)
        #expect(fixture.completions(0, 0).map(\.status) == Array(repeating: CompletionStatus.overloaded.rawValue, count: 5))
    }

    /// A reload gives the table new policies; a tenant whose rate limit is
    /// unchanged keeps its limiter (what it spent stays spent), a changed or
    /// new one gets a fresh limiter, and an empty slot has no limit.
    @Test func aReloadKeepsTheLimiterOfAnUnchangedRateLimit() {
        var a = TenantConfiguration(name: "a")
        a.weight = 3
        a.rateLimit = RateLimit(eventsPerSecond: 100, burst: 10)
        var b = TenantConfiguration(name: "b")
        b.rateLimit = RateLimit(eventsPerSecond: 100, burst: 10)
        let table = TenantPolicyTable()
        table.update([a, b])
        let before = table.current
        #expect(before[0].weight == 3 && before[0].limiter != nil)
        b.rateLimit = RateLimit(eventsPerSecond: 200, burst: 10)
        a.weight = 2
        table.update([a, b, nil])
        let after = table.current
        #expect(after.count == 3 && after[0].weight == 2)
        #expect(after[0].limiter === before[0].limiter)
        #expect(after[1].limiter !== before[1].limiter && after[1].limiter != nil)
        #expect(after[2].limiter == nil && after[2].weight == 1)
    }
}
