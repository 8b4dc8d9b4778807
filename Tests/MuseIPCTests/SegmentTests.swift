#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import Testing
@testable import MuseIPC

func temporaryDirectory() -> String {
    var template = Array("/tmp/muse-ipc-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

struct SegmentTests {
    let layout = try! SegmentLayout(channelCount: 2, ringDepth: 8, maxFeatures: 4)

    @Test func layoutRejectsImpossibleShapes() {
        #expect(throws: SegmentLayout.LayoutError.ringDepth(12)) { try SegmentLayout(channelCount: 1, ringDepth: 12, maxFeatures: 4) }
        #expect(throws: SegmentLayout.LayoutError.channelCount(0)) { try SegmentLayout(channelCount: 0, ringDepth: 8, maxFeatures: 4) }
        #expect(throws: SegmentLayout.LayoutError.maxFeatures(0)) { try SegmentLayout(channelCount: 1, ringDepth: 8, maxFeatures: 0) }
    }

    @Test func createdSegmentIsReadableThroughMuseH() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let segment = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: layout)
        try segment.publishIntents([IntentSchema(name: "x", id: 3, featureNames: ["a", "b"])])
        var client = muse_client()
        #expect(muse_open(&client, "\(dir)/t.muse") == MUSE_OK)
        defer { muse_close(&client) }
        #expect(client.channel_count == 2 && client.ring_depth == 8 && client.max_features == 4)
        var info = muse_intent_info()
        #expect(muse_lookup_intent(&client, "x", &info) == MUSE_OK)
        #expect(info.id == 3 && info.feature_count == 2)
        #expect(info.schema_hash == IntentSchema(name: "x", id: 3, featureNames: ["a", "b"]).schemaHash)
        #expect(muse_lookup_intent(&client, "y", &info) == MUSE_E_UNKNOWN_INTENT)
        var info2 = stat()
        stat("\(dir)/t.muse", &info2)
        #expect(info2.st_mode & 0o777 == 0o660)
    }

    @Test func adoptionTakesTheNextIncarnationAndResumesTheIndices() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let first = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: layout)
            muse__atomic_store_release_u64(&first.control(1).pointee.cq_tail, 40)
            muse__atomic_store_release_u64(&first.control(1).pointee.sq_tail, 43)
        }
        let second = try Segment.adopt(path: "\(dir)/t.muse", tenant: "t", groupID: nil)
        #expect(second.incarnation == 2 && second.wasAdopted && second.layout == layout)
        let endpoint = ChannelEndpoint(segment: second, channel: ChannelIndex(1), tenant: TenantIndex(0))
        #expect(endpoint.head == 40)
        #expect(second.control(1).pointee.sq_head == 40) // repaired to cq_tail
    }

    @Test func adoptionRefusesForeignAndNewerSegments() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Random bytes: not a segment.
        let junk = (0..<8192).map { _ in UInt8.random(in: 0...255) }
        _ = FileManager.default.createFile(atPath: "\(dir)/junk.muse", contents: Data(junk))
        #expect { try Segment.adopt(path: "\(dir)/junk.muse", tenant: "junk", groupID: nil) } throws: { error in
            "\(error)".contains("not a Muse segment")
        }
        // A newer ABI major.
        do {
            let segment = try Segment.create(path: "\(dir)/new.muse", tenant: "new", groupID: nil, layout: layout)
            segment.header.pointee.abi_major = UInt16(MUSE_ABI_MAJOR) + 1
        }
        #expect { try Segment.adopt(path: "\(dir)/new.muse", tenant: "new", groupID: nil) } throws: { error in
            guard case SegmentError.incompatibleABI(_, let found, _) = error else { return false }
            return found.hasPrefix("\(MUSE_ABI_MAJOR + 1).")
        }
        // Another tenant's segment.
        _ = try Segment.create(path: "\(dir)/a.muse", tenant: "a", groupID: nil, layout: layout)
        #expect { try Segment.adopt(path: "\(dir)/a.muse", tenant: "b", groupID: nil) } throws: { error in
            "\(error)".contains("belongs to tenant 'a'")
        }
        // A client refuses the newer one too.
        var client = muse_client()
        #expect(muse_open(&client, "\(dir)/new.muse") == MUSE_E_ABI)
        #expect(muse_open(&client, "\(dir)/junk.muse") == MUSE_E_ABI)
    }

    @Test func theSchemaAreaNamesEveryIntentsFeaturesInOrder() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let segment = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: layout)
        let intents = [IntentSchema(name: "x", id: 3, featureNames: ["amount", "merchant", "hour"]),
                       IntentSchema(name: "empty", id: 4, featureNames: []),
                       IntentSchema(name: "y", id: 5, featureNames: ["b", "a"])]
        try segment.publishIntents(intents)
        #expect(segment.header.pointee.abi_minor == 1 && segment.layout.channelsOffset == 4096 + 65536)
        var client = muse_client()
        try #require(muse_open(&client, "\(dir)/t.muse") == MUSE_OK)
        defer { muse_close(&client) }
        var index: UInt32 = 99
        #expect(muse_lookup_feature(&client, "x", "hour", &index) == MUSE_OK && index == 2)
        #expect(muse_lookup_feature(&client, "x", "amount", &index) == MUSE_OK && index == 0)
        #expect(muse_lookup_feature(&client, "y", "a", &index) == MUSE_OK && index == 1)
        #expect(muse_lookup_feature(&client, "x", "a", &index) == MUSE_E_UNKNOWN_FEATURE)
        #expect(muse_lookup_feature(&client, "x", "amoun", &index) == MUSE_E_UNKNOWN_FEATURE)
        #expect(muse_lookup_feature(&client, "z", "a", &index) == MUSE_E_UNKNOWN_INTENT)
        var buffer = [CChar](repeating: 0, count: 64)
        var length = 0
        var info = muse_intent_info()
        #expect(muse_intent_features(&client, "x", &buffer, 64, &length, &info) == MUSE_OK)
        #expect(String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "amount\nmerchant\nhour"
               && length == 20 && info.id == 3 && buffer[20] == 0)
        #expect(muse_intent_features(&client, "x", &buffer, 5, &length, &info) == MUSE_E_AGAIN && length == 20)
        #expect(muse_intent_features(&client, "empty", &buffer, 64, &length, &info) == MUSE_OK && length == 0)
        // The client's own order is checked against the served schema.
        let right = ["amount", "merchant", "hour"], wrong = ["merchant", "amount", "hour"]
        var x = muse_intent_info()
        try #require(muse_lookup_intent(&client, "x", &x) == MUSE_OK)
        func check(_ names: [String]) -> muse_status {
            let copies = names.map { strdup($0) }
            defer { copies.forEach { free($0) } }
            return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer {
                muse_check_schema(&client, &x, $0.baseAddress, $0.count)
            }
        }
        #expect(check(right) == MUSE_OK)
        #expect(check(wrong) == MUSE_E_SCHEMA_MISMATCH)
        // A new generation renames a feature: the old intent info no longer checks out.
        try segment.publishIntents([IntentSchema(name: "x", id: 3, featureNames: ["amount", "merchant", "hour_utc"])])
        #expect(check(right) == MUSE_E_SCHEMA_MISMATCH)
        #expect(throws: SegmentError.self) {
            try segment.publishIntents([IntentSchema(name: "x", id: 3, featureNames: ["a\nb"])])
        }
    }

    @Test func anABI10SegmentIsAdoptedAndServesWithoutNames() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let old = try SegmentLayout(channelCount: 2, ringDepth: 8, maxFeatures: 4, schemaBytes: 0)
        do {
            let segment = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: old)
            segment.header.pointee.abi_minor = 0 // as an ABI 1.0 daemon made it
        }
        let adopted = try Segment.adopt(path: "\(dir)/t.muse", tenant: "t", groupID: nil)
        #expect(adopted.layout == old && adopted.layout.channelsOffset == 4096)
        try adopted.publishIntents([IntentSchema(name: "x", id: 3, featureNames: ["a", "b"])])
        var client = muse_client()
        try #require(muse_open(&client, "\(dir)/t.muse") == MUSE_OK)
        defer { muse_close(&client) }
        var info = muse_intent_info()
        var index: UInt32 = 0
        #expect(muse_lookup_intent(&client, "x", &info) == MUSE_OK && info.feature_count == 2)
        #expect(muse_lookup_feature(&client, "x", "a", &index) == MUSE_E_NO_SCHEMA)
    }
}
