import Testing
import Foundation
import MuseScoring
@testable import MuseSnapshot

@Suite("Sketch export files")
struct SketchFileTests {
    static func sketch(_ n: Int, seed: UInt64) -> ScoreSketch {
        var rng = SplitMix64(seed: seed)
        var sketch = ScoreSketch()
        for _ in 0..<n { sketch.add(pow(rng.uniform(), 3)) }
        sketch.add(.nan)
        return sketch
    }

    static func file(host: String = "host-a", seed: UInt64 = 1) -> SketchFile {
        SketchFile(host: host, entries: [
            SketchEntry(tenant: "acme", predictor: "gbm-v1", fingerprint: 0x1234, windowStart: 10, windowEnd: 20,
                        sketch: sketch(5000, seed: seed)),
            SketchEntry(tenant: "acme", predictor: "gbm-v2", fingerprint: 0x5678, windowStart: 12, windowEnd: 20,
                        sketch: sketch(300, seed: seed + 1)),
            SketchEntry(tenant: "globex", predictor: "gbm-v1", fingerprint: 0x1234, windowStart: 10, windowEnd: 25,
                        sketch: ScoreSketch()),
        ])
    }

    @Test func roundTrip() throws {
        let file = Self.file()
        let decoded = try SketchFile(decoding: file.encoded())
        #expect(decoded == file)
        #expect(decoded.entries[0].sketch.count == 5000 && decoded.entries[0].sketch.nonFinite == 1)
    }

    @Test func mergingTwoHostsAddsCountsPerKey() throws {
        let a = Self.file(host: "a", seed: 1), b = Self.file(host: "b", seed: 7)
        var other = b
        other.entries[1].fingerprint = 0x9999  // same name, another level 1: kept apart
        let merged = SketchFile.merge([a, other])
        #expect(merged.entries.count == 4)
        let v1 = try #require(merged.entries.first { $0.tenant == "acme" && $0.predictor == "gbm-v1" })
        #expect(v1.sketch.count == a.entries[0].sketch.count + b.entries[0].sketch.count)
        var expected = a.entries[0].sketch
        expected.merge(b.entries[0].sketch)
        #expect(v1.sketch == expected)
        #expect(merged.entries.filter { $0.predictor == "gbm-v2" }.count == 2)
        // Merging is order-independent.
        #expect(SketchFile.merge([other, a]).entries == merged.entries)
    }

    /// Refuses with a message containing `expected`.
    func refuses(_ bytes: [UInt8], _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SketchFile(decoding: bytes)
            Issue.record("accepted a damaged file (\(expected))", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.contains(expected), "\(error.description)", sourceLocation: sourceLocation)
        }
    }

    /// A file whose body is `edit`ed, with the header's length and checksum fixed up.
    func rebuilt(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        let bytes = Self.file().encoded()
        var body = Array(bytes[32...])
        edit(&body)
        var header = Array(bytes[0..<16])
        withUnsafeBytes(of: UInt64(body.count).littleEndian) { header += $0 }
        withUnsafeBytes(of: XXH64.hash(body).littleEndian) { header += $0 }
        return header + body
    }

    @Test func damagedFilesAreRefused() {
        let good = Self.file().encoded()
        refuses([], "shorter than the 32-byte header")
        refuses(Array("NOTASKCH".utf8) + good[8...], "not a Muse sketch file")
        var version = good
        version[8] = 9
        refuses(version, "format version 9")
        refuses(Array(good.dropLast(5)), "truncated")
        refuses(good + [0], "trailing")
        var flipped = good
        flipped[good.count / 2] ^= 0x40
        refuses(flipped, "checksum mismatch")
        // Past the checksum (as a writer with a bug would produce).
        let hostLength = 4 + "host-a".utf8.count
        refuses(rebuilt { $0[hostLength] = 5 }, "bin layout")
        refuses(rebuilt { $0.replaceSubrange(hostLength + 12..<hostLength + 16, with: [0xff, 0xff, 0xff, 0x7f]) },
                "entry count")
        // The first entry's event total, then its first bin index.
        let entry = hostLength + 16
        let totalAt = entry + 4 + 4 + 4 + 6 + 8 * 3
        refuses(rebuilt { $0[totalAt] &+= 1 }, "records")
        let firstBin = totalAt + 16 + 4
        refuses(rebuilt { $0.replaceSubrange(firstBin..<firstBin + 4, with: [0xff, 0xff, 0, 0]) }, "bin index")
        refuses(rebuilt { $0.replaceSubrange(totalAt + 16..<totalAt + 20, with: [0xff, 0xff, 0xff, 0x0f]) }, "bin count")
        refuses(rebuilt { $0 += [1, 2, 3] }, "after the last entry")
    }

    @Test func aFitFromAMergedFileMatchesTheMergedSketch() throws {
        let merged = SketchFile.merge([Self.file(host: "a", seed: 1), Self.file(host: "b", seed: 2)])
        let map = try QuantileMapFitter(reference: .uniform, knots: 101).fit(merged.entries[0].sketch)
        #expect(map.knotCount > 50)
    }
}
