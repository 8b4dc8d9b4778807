import Testing
@testable import MuseServer

/// The three idle policies' decisions at a worker's clock readings, on a
/// synthetic clock (the end-to-end tests run the real daemon under each).
struct IdleStrategyTests {
    @Test func eachPolicyDecidesWhenToSleepAndAdaptiveLearnsItsBudgetFromTheGaps() {
        let cap: UInt64 = 100_000
        var spin = IdleStrategy(policy: .busySpin, maxSpinNanoseconds: cap, now: 0)
        var lowPower = IdleStrategy(policy: .lowPower, maxSpinNanoseconds: cap, now: 0)
        for t in stride(from: UInt64(1_000), through: 10_000_000, by: 1_000_000) {
            let spinSleeps = spin.shouldSleep(now: t, worked: false)
            #expect(!spinSleeps)   // never, however long
            let lowPowerSleeps = lowPower.shouldSleep(now: t, worked: false)
            #expect(lowPowerSleeps) // at the first idle reading
        }
        let sleepsAfterWork = lowPower.shouldSleep(now: 20_000_000, worked: true)
        #expect(!sleepsAfterWork)

        // Adaptive starts by spinning spin_us, then yields, then sleeps.
        var adaptive = IdleStrategy(policy: .adaptive, maxSpinNanoseconds: cap, now: 0)
        #expect(adaptive.spinBudgetNanoseconds == cap)
        let spinning = adaptive.shouldSleep(now: cap - 1, worked: false)
        #expect(!spinning)
        let yielding = adaptive.shouldSleep(now: cap, worked: false)
        #expect(!yielding) // now yielding
        for _ in 0..<IdleStrategy.yieldsBeforeSleep { adaptive.pause() }
        let sleeping = adaptive.shouldSleep(now: cap + 1_000, worked: false)
        #expect(sleeping)
        adaptive.woke()

        // Dense arrivals (2 µs gaps): it spins through 8 mean gaps.
        var t: UInt64 = 1_000_000
        for _ in 0..<500 {
            _ = adaptive.shouldSleep(now: t, worked: true)
            t += 2_000
            _ = adaptive.shouldSleep(now: t, worked: false)
            t += 10
        }
        #expect(adaptive.meanGapNanoseconds < 2_500)
        #expect((8 * 1_900...8 * 2_600).contains(adaptive.spinBudgetNanoseconds))
        // Sparse arrivals (1 ms gaps, spin_us 100 µs): an eighth of the mean
        // gap (clamped at 4 × spin_us).
        for _ in 0..<500 {
            _ = adaptive.shouldSleep(now: t, worked: true)
            t += 1_000_000
            _ = adaptive.shouldSleep(now: t, worked: false)
        }
        #expect(adaptive.meanGapNanoseconds <= 4 * cap) // clamped
        #expect((cap / 2 - 1_000...cap / 2).contains(adaptive.spinBudgetNanoseconds))
        #expect(adaptive.coveredShare < IdleStrategy.denseShare)
        #expect(IdleStrategy.budget(meanGap: 200_000, coveredShare: 0, maxSpin: cap) == 25_000)
        #expect(IdleStrategy.budget(meanGap: 10_000, coveredShare: 1024, maxSpin: cap) == 80_000)
        #expect(IdleStrategy.budget(meanGap: 20_000, coveredShare: 1024, maxSpin: cap) == cap)
        #expect(IdleStrategy.budget(meanGap: 0, coveredShare: 1024, maxSpin: cap) == IdleStrategy.minimumSpinNanoseconds)

        // Gaps a little longer than the mean rule would allow but within
        // spin_us (a worker at 10k/s whose gaps include wake-ups) stay dense.
        for _ in 0..<500 {
            _ = adaptive.shouldSleep(now: t, worked: true)
            t += 40_000
            _ = adaptive.shouldSleep(now: t, worked: false)
        }
        #expect(adaptive.coveredShare >= IdleStrategy.denseShare && adaptive.spinBudgetNanoseconds == cap)
    }
}
