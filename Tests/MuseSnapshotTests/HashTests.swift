import Testing
@testable import MuseSnapshot

@Suite struct HashTests {
    /// Reference values from the xxHash reference implementation
    /// (tools/fixtures/make_xxh64_vectors.py): inputs shorter than a stripe,
    /// exactly at the 4- and 8-byte tails, and several 32-byte stripes.
    @Test func xxh64MatchesTheReference() {
        let inputs: [[UInt8]] = [[], Array("a".utf8), Array("abc".utf8), Array("Nobody inspects the spammish repetition".utf8),
                                 Array((0..<768).map { UInt8($0 % 256) })]
        let seed0: [UInt64] = [0xef46db3751d8e999, 0xd24ec4f1a98c6e5b, 0x44bc2cf5ad770999, 0xfbcea83c8a378bf1, 0x8e03c838c596036f]
        let seeded: [UInt64] = [0xac75fda2929b17ef, 0x393da8b78992279b, 0x1318df30094a85fd, 0x56db22dd5b051147, 0x8e06c6a027f6b435]
        for (i, input) in inputs.enumerated() {
            #expect(XXH64.hash(input) == seed0[i], "input \(i)")
            #expect(XXH64.hash(input, seed: 2654435761) == seeded[i], "input \(i), seeded")
        }
    }

    /// The same for XXH32 (the LZ4 frame's content checksum), including a
    /// buffer hashed while it grows, as the decoder's checker does.
    @Test func xxh32MatchesTheReference() {
        let inputs: [[UInt8]] = [[], Array("a".utf8), Array("abc".utf8), Array("Nobody inspects the spammish repetition".utf8),
                                 Array((0..<768).map { UInt8($0 % 256) }), (0..<100003).map { UInt8(($0 * 7) % 251) }]
        let seed0: [UInt32] = [0x02cc5d05, 0x550d7456, 0x32d153ff, 0xe2293b2f, 0xcdb946b1, 0x2695a814]
        let seeded: [UInt32] = [0x36b78ae7, 0x9e1633e4, 0xa1ae7709, 0xc9e89e68, 0xaed9c9a4, 0x3c216134]
        for (i, input) in inputs.enumerated() {
            #expect(XXH32.hash(input) == seed0[i], "input \(i)")
            #expect(XXH32.hash(input, seed: 2654435761) == seeded[i], "input \(i), seeded")
        }
        let big = inputs[5]
        big.withUnsafeBytes { b in
            var running = XXH32.Running()
            for available in stride(from: 0, to: b.count, by: 777) { running.consume(b, upTo: available) }
            running.consume(b, upTo: b.count)
            #expect(running.finish(b) == 0x2695a814)
        }
    }

    /// muse.h's muse_fnv1a: the published FNV-1a 64 vectors, and the
    /// schema hash is over the names joined by "\n".
    @Test func fnv1aMatchesMuseH() {
        #expect(FNV1a.hash([UInt8]()) == 0xcbf29ce484222325)
        #expect(FNV1a.hash("a".utf8) == 0xaf63dc4c8601ec8c)
        #expect(FNV1a.hash("foobar".utf8) == 0x85944171f73967e8)
        #expect(FNV1a.schemaHash(["amount", "hour"]) == FNV1a.hash("amount\nhour".utf8))
        #expect(IntentSchema(name: "x", id: 1, featureNames: ["a", "b"]).schemaHash != IntentSchema(name: "x", id: 1, featureNames: ["b", "a"]).schemaHash)
    }
}
