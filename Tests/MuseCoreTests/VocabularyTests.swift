#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Testing
import MuseCore

/// The shared vocabulary: hashes, limits and ids every module reads the
/// same way, and the error a failed system call becomes.
struct VocabularyTests {
    /// FNV1a is muse.h's muse_fnv1a: the published FNV-1a 64 vectors, the
    /// same hash whether the bytes come at once, in pieces (seed chaining, as
    /// the level-1 fingerprint hashes), or from a non-contiguous sequence.
    @Test func fnv1aIsMuseHs() {
        #expect(FNV1a.offsetBasis == 0xcbf2_9ce4_8422_2325)
        #expect(FNV1a.hash([UInt8]()) == 0xcbf2_9ce4_8422_2325)
        #expect(FNV1a.hash("a".utf8) == 0xaf63_dc4c_8601_ec8c)
        #expect(FNV1a.hash("foobar".utf8) == 0x8594_4171_f739_67e8)
        #expect(FNV1a.hash("bar".utf8, seed: FNV1a.hash("foo".utf8)) == FNV1a.hash("foobar".utf8))
        #expect(FNV1a.hash("foobar".utf8.reversed().reversed()) == FNV1a.hash("foobar".utf8))
        var names: [UnsafePointer<CChar>?] = []
        let amount = strdup("amount")!, hour = strdup("hour")!
        defer { free(amount); free(hour) }
        names = [UnsafePointer(amount), UnsafePointer(hour)]
        #expect(FNV1a.schemaHash(["amount", "hour"]) == muse_schema_hash(&names, 2))
    }

    /// Names are limited by muse.h's constants, not by copies of them.
    @Test func limitsAreMuseHs() {
        #expect(FeatureName.maxLength == Int(MUSE_FEATURE_NAME_MAX))
        #expect(FeatureName.problem(String(repeating: "f", count: FeatureName.maxLength)) == nil)
        #expect(FeatureName.problem(String(repeating: "f", count: FeatureName.maxLength + 1)) != nil)
        #expect(IntentName.maxLength == Int(MUSE_INTENT_NAME_SIZE) - 1)
        #expect(IntentName.maxCount == Int(MUSE_MAX_INTENTS))
        #expect(TenantName.maxLength == Int(MUSE_TENANT_NAME_SIZE) - 1)
    }

    /// Ids convert at their edges only, and the predictor id keeps 0 for none.
    @Test func idsConvertAtTheEdges() {
        let intent: IntentID = 7
        #expect(intent == IntentID(7) && Int(intent) == 7 && "\(intent)" == "7")
        let generation: GenerationID = 3
        #expect(generation.rawValue == 3 && generation > .none)
        #expect(PredictorID(index: 0) == PredictorID(1) && PredictorID.none.index == PredictorIndex(-1))
        #expect(TenantIndex(2).description == "tenant#2")
    }

    /// EINTR is retried; any other failure is thrown with its errno.
    @Test func retryingOnInterruptRetriesOnlyEINTR() {
        var calls = 0
        let result = try? retryingOnInterrupt("chmod", "/x") {
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 0
        }
        #expect(result == 0 && calls == 3)
        #expect(throws: SystemCallError("chmod", "/x", errno: Errno(rawValue: EACCES))) {
            try retryingOnInterrupt("chmod", "/x") { errno = EACCES; return -1 }
        }
        #expect(SystemCallError("mmap 4096 bytes", .noMemory).description == "mmap 4096 bytes: ENOMEM (Cannot allocate memory)")
    }
}
