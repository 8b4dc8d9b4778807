#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import Synchronization
import Testing
@testable import MuseIPC

/// A doorbell rung for nothing stops waking the worker (issue 11), and the
/// other segments' doorbells keep working meanwhile.
struct DaemonDoorbellTests {
    @Test func aDoorbellRungForNothingIsMutedAndOthersStillWake() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = try SegmentLayout(channelCount: 1, ringDepth: 8, maxFeatures: 4)
        let ringer = try Segment.create(path: "\(dir)/r.muse", tenant: "r", groupID: nil, layout: layout)
        let other = try Segment.create(path: "\(dir)/o.muse", tenant: "o", groupID: nil, layout: layout)
        var doorbell = DaemonDoorbell(segments: [ringer, other], worker: 0)
        // The doorbell words' addresses, taken before any thread starts: an
        // inout access to `pointee` on two threads is a Swift access race.
        let offset = MemoryLayout<muse_segment_header>.offset(of: \.daemon_doorbell)!
        let ringerWord = Int(bitPattern: UnsafeMutableRawPointer(ringer.header) + offset)
        let otherWord = Int(bitPattern: UnsafeMutableRawPointer(other.header) + offset)
        let stop = Atomic<Bool>(false)
        let rings = Atomic<Int>(0)
        let ringing = Thread {
            let word = UnsafeMutablePointer<UInt32>(bitPattern: ringerWord)!
            while !stop.load(ordering: .relaxed) {
                muse__ring(word)
                rings.add(1, ordering: .relaxed)
            }
        }
        ringing.start()
        defer { stop.store(true, ordering: .relaxed) }
        while rings.load(ordering: .relaxed) == 0 { usleep(100) }

        // 300 ms of sleep with no work anywhere: without mutes every ring
        // would be a wake and a look at the rings.
        var looks = 0
        let start = ThreadSupport.monotonicNanoseconds()
        #expect(doorbell.sleep(timeoutNanoseconds: 300_000_000) { looks += 1; return false })
        let slept = ThreadSupport.monotonicNanoseconds() - start
        #expect(slept >= 290_000_000 && slept < 2_000_000_000, "slept \(slept) ns")
        let rung = rings.load(ordering: .relaxed)
        // At most budget + 1 (33) wakes before each mute (>= 4 ms, so at
        // most 76 of them in 300 ms), plus the wake at the mute's end, two
        // looks each: 5,168. Without mutes: 18,109 measured.
        #expect(DaemonDoorbell.emptyWakeBudget == 32)
        #expect(looks <= 5168, "\(looks) looks for \(rung) rings")
        #expect(rung > looks, "\(looks) looks for \(rung) rings")

        // The other segment's client rings with work behind it: the worker
        // wakes at once although the ringer goes on.
        let work = Atomic<Bool>(false)
        let client = Thread {
            usleep(20_000)
            work.store(true, ordering: .releasing)
            let word = UnsafeMutablePointer<UInt32>(bitPattern: otherWord)!
            muse__ring(word)
        }
        client.start()
        let before = ThreadSupport.monotonicNanoseconds()
        doorbell.sleep(timeoutNanoseconds: 5_000_000_000) { work.load(ordering: .acquiring) }
        let waited = ThreadSupport.monotonicNanoseconds() - before
        #expect(work.load(ordering: .acquiring) && waited < 1_000_000_000, "woke after \(waited) ns")
    }

    /// Past futex_waitv's 128 words a worker still sleeps until a doorbell
    /// rings, whichever of its segments it is, instead of napping in a loop.
    @Test func aWorkerOnHundredsOfSegmentsSleepsUntilAnyRings() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = try SegmentLayout(channelCount: 1, ringDepth: 8, maxFeatures: 4)
        let segments = try (0..<300).map { try Segment.create(path: "\(dir)/t\($0).muse", tenant: "t\($0)", groupID: nil, layout: layout) }
        var doorbell = DaemonDoorbell(segments: segments, worker: 0)
        let offset = MemoryLayout<muse_segment_header>.offset(of: \.daemon_doorbell)!
        let wordAddresses = segments.map { Int(bitPattern: UnsafeMutableRawPointer($0.header) + offset) }

        // Nothing rings: one sleep, the whole timeout, one look before it.
        var looks = 0
        var start = ThreadSupport.monotonicNanoseconds()
        #expect(doorbell.sleep(timeoutNanoseconds: 300_000_000) { looks += 1; return false })
        let slept = ThreadSupport.monotonicNanoseconds() - start
        #expect(slept >= 290_000_000, "returned after \(slept) ns: it napped instead of sleeping")
        #expect(looks <= 2, "\(looks) looks in one sleep")

        // A ring with work behind it, in the first, a middle and the last group of 128.
        for ringing in [5, 250, 299] {
            let work = Atomic<Bool>(false)
            let client = Thread {
                usleep(50_000)
                work.store(true, ordering: .releasing)
                let word = UnsafeMutablePointer<UInt32>(bitPattern: wordAddresses[ringing])!
                muse__ring(word)
            }
            client.start()
            start = ThreadSupport.monotonicNanoseconds()
            doorbell.sleep(timeoutNanoseconds: 5_000_000_000) { work.load(ordering: .acquiring) }
            let waited = ThreadSupport.monotonicNanoseconds() - start
            #expect(work.load(ordering: .acquiring) && waited < 1_000_000_000, "segment \(ringing): woke after \(waited) ns")
            while !client.isFinished { usleep(1000) }
        }
    }

    /// The doorbell names the segment that rang, from what the kernel says
    /// (futex_waitv's woken index up to 128 segments, the completed io_uring
    /// group past them), and asks `segmentHasWork` about that one alone
    /// instead of sweeping every segment.
    @Test(arguments: [100, 300])
    func theDoorbellNamesTheSegmentThatRang(count: Int) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = try SegmentLayout(channelCount: 1, ringDepth: 8, maxFeatures: 4)
        let segments = try (0..<count).map { try Segment.create(path: "\(dir)/t\($0).muse", tenant: "t\($0)", groupID: nil, layout: layout) }
        var doorbell = DaemonDoorbell(segments: segments, worker: 0)
        let offset = MemoryLayout<muse_segment_header>.offset(of: \.daemon_doorbell)!
        let wordAddresses = segments.map { Int(bitPattern: UnsafeMutableRawPointer($0.header) + offset) }

        for ringing in [0, 37, count - 1] {
            let work = Atomic<Bool>(false)
            let client = Thread {
                usleep(30_000)
                work.store(true, ordering: .releasing)
                muse__ring(UnsafeMutablePointer<UInt32>(bitPattern: wordAddresses[ringing])!)
            }
            client.start()
            var fullLooks = 0
            var asked: [Int] = []
            let start = ThreadSupport.monotonicNanoseconds()
            let slept = doorbell.sleep(timeoutNanoseconds: 5_000_000_000, segmentHasWork: { i in
                asked.append(i)
                return i == ringing && work.load(ordering: .acquiring)
            }) {
                fullLooks += 1
                return false
            }
            let waited = ThreadSupport.monotonicNanoseconds() - start
            #expect(slept && waited < 1_000_000_000, "\(count) segments, \(ringing) rang: woke after \(waited) ns")
            #expect(doorbell.rang == [ringing], "\(count) segments, \(ringing) rang: named \(doorbell.rang)")
            #expect(asked == [ringing], "\(count) segments: asked about \(asked)")
            // One full look, before the wait (the arm/check protocol); none after it.
            #expect(fullLooks == 1, "\(count) segments: \(fullLooks) full looks")
            while !client.isFinished { usleep(1000) }
        }

        // A timeout names nothing.
        #expect(doorbell.sleep(timeoutNanoseconds: 20_000_000, segmentHasWork: { _ in false }) { false })
        #expect(doorbell.rang.isEmpty)
    }

    /// A sleep that leaves settling to its caller returns with the worker's
    /// bit still raised (a client would ring), and `settle` lowers it; a
    /// plain sleep lowers it before returning. Up to 128 segments, every
    /// bit; past them, only the bits of the groups whose io_uring request
    /// left the kernel (none after a timeout): the rest stay raised with
    /// their requests waiting, until `retire`.
    @Test func aSleepSettledLaterKeepsItsBitsUntilSettled() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = try SegmentLayout(channelCount: 1, ringDepth: 8, maxFeatures: 4)
        for count in [3, 200] {
            let segments = try (0..<count).map { try Segment.create(path: "\(dir)/s\(count)-\($0).muse", tenant: "s\($0)", groupID: nil, layout: layout) }
            var doorbell = DaemonDoorbell(segments: segments, worker: 2)
            let sleeping = { (i: Int) -> UInt32 in
                let offset = MemoryLayout<muse_segment_header>.offset(of: \.daemon_sleeping)!
                return muse__atomic_load_acquire_u32((UnsafeMutableRawPointer(segments[i].header) + offset).assumingMemoryBound(to: UInt32.self))
            }
            let staysRaised = count > 128
            #expect(doorbell.sleep(timeoutNanoseconds: 5_000_000, settleLater: true) { false })
            #expect((0..<count).allSatisfy { sleeping($0) == 1 << 2 }, "\(count) segments: bits lowered before settle")
            doorbell.settle()
            #expect((0..<count).allSatisfy { sleeping($0) == (staysRaised ? 1 << 2 : 0) }, "\(count) segments after settle")
            doorbell.settle()
            #expect(doorbell.sleep(timeoutNanoseconds: 5_000_000) { false })
            #expect((0..<count).allSatisfy { sleeping($0) == (staysRaised ? 1 << 2 : 0) })
            // A sleep after an unsettled one settles it first and still sleeps.
            #expect(doorbell.sleep(timeoutNanoseconds: 5_000_000, settleLater: true) { false })
            let start = ThreadSupport.monotonicNanoseconds()
            #expect(doorbell.sleep(timeoutNanoseconds: 20_000_000) { false })
            #expect(ThreadSupport.monotonicNanoseconds() - start >= 19_000_000)
            #expect((0..<count).allSatisfy { sleeping($0) == (staysRaised ? 1 << 2 : 0) })
            doorbell.retire()
            #expect((0..<count).allSatisfy { sleeping($0) == 0 }, "\(count) segments: bits left raised after retire")
        }
    }

    /// Past 128 segments an idle worker's sleeps leave the io_uring requests
    /// and the bits of idle tenants in place: a sleep after a timeout
    /// submits nothing, a ring re-submits its own group alone and lowers
    /// and raises only that group's bits, and nothing is lost meanwhile.
    @Test func sleepsPastOneHundredTwentyEightSegmentsResubmitOnlyWhatRang() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = try SegmentLayout(channelCount: 1, ringDepth: 8, maxFeatures: 4)
        let count = 300
        let segments = try (0..<count).map { try Segment.create(path: "\(dir)/t\($0).muse", tenant: "t\($0)", groupID: nil, layout: layout) }
        var doorbell = DaemonDoorbell(segments: segments, worker: 0)
        defer { doorbell.retire() }
        let offset = MemoryLayout<muse_segment_header>.offset(of: \.daemon_doorbell)!
        let wordAddresses = segments.map { Int(bitPattern: UnsafeMutableRawPointer($0.header) + offset) }
        let sleepingOffset = MemoryLayout<muse_segment_header>.offset(of: \.daemon_sleeping)!
        let sleeping = { (i: Int) -> UInt32 in
            muse__atomic_load_acquire_u32((UnsafeMutableRawPointer(segments[i].header) + sleepingOffset).assumingMemoryBound(to: UInt32.self))
        }
        let group = DaemonDoorbell.groupSize
        let groups = (count + group - 1) / group

        // The first sleep submits every group; five more after timeouts, none.
        #expect(doorbell.sleep(timeoutNanoseconds: 2_000_000, settleLater: true) { false })
        doorbell.settle()
        #expect(doorbell.groupSubmissions == UInt64(groups))
        for _ in 0..<5 {
            #expect(doorbell.sleep(timeoutNanoseconds: 2_000_000, settleLater: true) { false })
            doorbell.settle()
        }
        #expect(doorbell.groupSubmissions == UInt64(groups), "\(doorbell.groupSubmissions) submissions")
        #expect((0..<count).allSatisfy { sleeping($0) == 1 })

        // A ring with work behind it: the worker wakes, names it, and its
        // group's bits come down at `settle`; the others' stay raised.
        let ringing = 217
        let work = Atomic<Bool>(false)
        let client = Thread {
            usleep(20_000)
            work.store(true, ordering: .releasing)
            muse__ring(UnsafeMutablePointer<UInt32>(bitPattern: wordAddresses[ringing])!)
        }
        client.start()
        let start = ThreadSupport.monotonicNanoseconds()
        #expect(doorbell.sleep(timeoutNanoseconds: 5_000_000_000, settleLater: true, segmentHasWork: { i in
            i == ringing && work.load(ordering: .acquiring)
        }) { work.load(ordering: .acquiring) })
        #expect(ThreadSupport.monotonicNanoseconds() - start < 1_000_000_000)
        #expect(doorbell.rang == [ringing])
        doorbell.settle()
        let rungGroup = ringing / group
        let lowered = (0..<count).filter { sleeping($0) == 0 }
        #expect(lowered == Array(rungGroup * group ..< (rungGroup + 1) * group), "lowered \(lowered.count) bits")
        while !client.isFinished { usleep(1000) }

        // The next sleep raises that group's bits again and submits it alone.
        work.store(false, ordering: .releasing)
        #expect(doorbell.sleep(timeoutNanoseconds: 2_000_000, settleLater: true) { false })
        doorbell.settle()
        #expect(doorbell.groupSubmissions == UInt64(groups + 1), "\(doorbell.groupSubmissions) submissions")
        #expect((0..<count).allSatisfy { sleeping($0) == 1 })

        // A client rings while the worker is awake (its bit stayed raised):
        // `noticeRings` lowers its group's bits, so its next submissions do
        // not ring, and the next sleep neither takes that ring for a wake
        // nor sleeps short.
        let late = 42
        muse__ring(UnsafeMutablePointer<UInt32>(bitPattern: wordAddresses[late])!)
        var noticed = false
        for _ in 0..<1000 where !noticed {
            doorbell.noticeRings()
            noticed = sleeping(late) == 0
            if !noticed { usleep(100) }
        }
        #expect(noticed, "the bit of a segment that rang while awake stayed raised")
        #expect((0..<count).filter { sleeping($0) == 0 }.count == group)
        var asked: [Int] = []
        let before = ThreadSupport.monotonicNanoseconds()
        #expect(doorbell.sleep(timeoutNanoseconds: 30_000_000, segmentHasWork: { asked.append($0); return false }) { false })
        #expect(ThreadSupport.monotonicNanoseconds() - before >= 29_000_000)
        #expect(asked.isEmpty, "a ring answered while awake was taken for a wake of \(asked)")
        #expect(doorbell.groupSubmissions == UInt64(groups + 2), "\(doorbell.groupSubmissions) submissions")
    }
}
