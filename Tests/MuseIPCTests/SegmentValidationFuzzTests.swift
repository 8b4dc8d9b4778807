#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseScoring
import Testing
@testable import MuseIPC

/// A seeded mutation loop over segment adoption: whatever a client leaves in
/// its segment file, adoption either accepts a layout that matches the file
/// or refuses it with a typed error; it never traps or touches memory past
/// the file. MUSE_FUZZ_ITERATIONS runs it longer.
struct SegmentValidationFuzzTests {
    /// Values that sit on the edges of the header's checks.
    static let interesting: [UInt64] = [0, 1, 2, 3, 7, 8, 63, 64, 4095, 4096, 4097, 65535, 65536, 1 << 31,
                                        UInt64(UInt32.max), 1 << 32, UInt64(Int64.max), UInt64.max]

    @Test func adoptionSurvivesMutatedHeaders() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["MUSE_FUZZ_ITERATIONS"] ?? "") ?? 3000
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = try SegmentLayout(channelCount: 2, ringDepth: 8, maxFeatures: 4)
        do { _ = try Segment.create(path: "\(dir)/seed.muse", tenant: "t", groupID: nil, layout: layout) }
        let seed = try [UInt8](Data(contentsOf: URL(filePath: "\(dir)/seed.muse")))
        var random = SplitMix64(seed: 0x5EED)
        var adopted = 0, refused = 0
        for _ in 0..<iterations {
            var bytes = seed
            // Most mutations land in the layout fields, where validation lives.
            for _ in 0..<(1 + random.below(4)) {
                let window = random.below(4) == 0 ? Int(MUSE_HEADER_SIZE) : 128
                let offset = random.below(window)
                switch random.below(3) {
                case 0:
                    bytes[offset] ^= UInt8(1 << random.below(8))
                case 1:
                    bytes[offset] = UInt8(truncatingIfNeeded: random.next())
                default:
                    let aligned = offset & ~7
                    let value = Self.interesting[random.below(Self.interesting.count)]
                    let width = [2, 4, 8][random.below(3)]
                    for k in 0..<width where aligned + k < bytes.count {
                        bytes[aligned + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k)))
                    }
                }
            }
            if random.below(8) == 0 {
                let sizes = [0, 1, 100, Int(MUSE_HEADER_SIZE) - 1, Int(MUSE_HEADER_SIZE), seed.count - 1,
                             seed.count + 4096]
                let size = sizes[random.below(sizes.count)]
                bytes = size <= bytes.count ? Array(bytes.prefix(size))
                    : bytes + [UInt8](repeating: 0, count: size - bytes.count)
            }
            let path = "\(dir)/t.muse"
            unlink(path)
            try Data(bytes).write(to: URL(filePath: path))
            do {
                let segment = try Segment.adopt(path: path, tenant: "t", groupID: nil)
                #expect(segment.layout.segmentSize == bytes.count)
                adopted += 1
            } catch is SegmentError {
                refused += 1
            } catch {
                Issue.record("untyped refusal: \(error)")
            }
        }
        // The loop must exercise both outcomes, or it proves nothing.
        #expect(adopted > 0 && refused > iterations / 2, "adopted \(adopted), refused \(refused)")
    }
}

extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
