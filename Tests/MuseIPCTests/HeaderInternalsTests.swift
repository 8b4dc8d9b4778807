#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import Synchronization
import Testing
@testable import MuseIPC

/// muse.h's internal helpers that both sides share: the publishing half of
/// the wake-up protocol and the intent table's one reader.
struct HeaderInternalsTests {
    @Test func wakeRingsOnlyWhenTheSleeperSaidItMaySleep() {
        let words = UnsafeMutablePointer<UInt32>.allocate(capacity: 3)
        defer { words.deallocate() }
        words.initialize(repeating: 0, count: 3)
        let doorbell = words, sleeping = words + 1, announce = words + 2
        // Awake: no ring, no count, and so no system call.
        #expect(muse__wake(doorbell, sleeping, announce) == 0)
        #expect(doorbell.pointee == 0 && announce.pointee == 0)
        // Asleep: the count, then the bell.
        sleeping.pointee = 1
        #expect(muse__wake(doorbell, sleeping, announce) == 1)
        #expect(doorbell.pointee == 1 && announce.pointee == 1)
        #expect(muse__wake(doorbell, sleeping, nil) == 1)
        #expect(doorbell.pointee == 2 && announce.pointee == 1)
        muse__ring(doorbell)
        #expect(doorbell.pointee == 3)
    }

    @Test func wakeEndsAFutexSleep() throws {
        let words = UnsafeMutablePointer<UInt32>.allocate(capacity: 2)
        defer { words.deallocate() }
        words.initialize(repeating: 0, count: 2)
        let address = Int(bitPattern: words)
        let woke = Atomic<UInt64>(0)
        let sleeper = Thread {
            let doorbell = UnsafeMutablePointer<UInt32>(bitPattern: address)!
            let start = muse__now_ns()
            muse__atomic_store_relaxed_u32(doorbell + 1, 1)
            muse__atomic_fence_seq_cst()
            // Five seconds unless woken; a spurious wake-up just sleeps again.
            while muse__atomic_load_acquire_u32(doorbell) == 0 && muse__now_ns() - start < 5_000_000_000 {
                _ = muse__futex_wait(doorbell, 0, 5_000_000_000)
            }
            woke.store(muse__now_ns() - start, ordering: .releasing)
        }
        sleeper.start()
        while muse__atomic_load_acquire_u32(words + 1) == 0 { usleep(100) }
        usleep(20_000)
        #expect(muse__wake(words, words + 1, nil) == 1)
        var waited = 0
        while woke.load(ordering: .acquiring) == 0 && waited < 10_000 { usleep(1000); waited += 1 }
        let slept = woke.load(ordering: .acquiring)
        #expect(slept > 0 && slept < 2_000_000_000, "slept \(slept) ns")
    }

    @Test func theIntentReaderFindsByNameOrIDAndCopiesNamesOnlyIfTheyFit() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = try SegmentLayout(channelCount: 1, ringDepth: 8, maxFeatures: 4)
        let segment = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: layout)
        let x = IntentSchema(name: "x", id: 3, featureNames: ["a", "b"])
        try segment.publishIntents([x, IntentSchema(name: "y", id: 5, featureNames: ["cc"])])
        var client = muse_client()
        try #require(muse_open(&client, "\(dir)/t.muse") == MUSE_OK)
        defer { muse_close(&client) }
        var found = muse__intent_reading()
        var names = [CChar](repeating: 0, count: 16)

        #expect(muse__read_intent(&client, "x", 0, &names, names.count, &found) == MUSE_OK)
        #expect(found.info.id == 3 && found.info.feature_count == 2 && found.info.schema_hash == x.schemaHash)
        #expect(found.names_size == 3 && found.names_copied != 0)
        #expect(Array(names[0..<3]) == "a\nb".utf8.map { CChar(bitPattern: $0) })

        // By id, with no buffer: the entry and the size, nothing copied.
        #expect(muse__read_intent(&client, nil, 5, nil, 0, &found) == MUSE_OK)
        #expect(found.info.id == 5 && found.info.feature_count == 1 && found.names_size == 2 && found.names_copied == 0)

        // Room for the names but not their NUL: not copied.
        names = [CChar](repeating: 0x7f, count: 3)
        #expect(muse__read_intent(&client, "x", 0, &names, 3, &found) == MUSE_OK)
        #expect(found.names_copied == 0 && names == [0x7f, 0x7f, 0x7f])

        #expect(muse__read_intent(&client, "z", 0, nil, 0, &found) == MUSE_E_UNKNOWN_INTENT)
        #expect(muse__read_intent(&client, nil, 4, nil, 0, &found) == MUSE_E_UNKNOWN_INTENT)

        // A writer that never finishes (intent_seq stays odd): a bounded
        // number of attempts, then MUSE_E_AGAIN.
        let sequence = segment.header.pointee.intent_seq
        muse__atomic_store_release_u32(&segment.header.pointee.intent_seq, sequence | 1)
        #expect(muse__read_intent(&client, "x", 0, nil, 0, &found) == MUSE_E_AGAIN)
        var info = muse_intent_info()
        #expect(muse_lookup_intent(&client, "x", &info) == MUSE_E_AGAIN)
        muse__atomic_store_release_u32(&segment.header.pointee.intent_seq, sequence)
        #expect(muse_lookup_intent(&client, "x", &info) == MUSE_OK && info.id == 3)
    }
}
