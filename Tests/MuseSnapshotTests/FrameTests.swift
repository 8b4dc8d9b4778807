import Testing
@testable import MuseSnapshot

/// The LZ4 frame decoder's two ways of checking the content checksum
/// (liblz4's, inline; Muse's XXH32 on a second thread) agree, and both
/// refuse a frame whose checksum or content was changed.
@Suite struct FrameTests {
    /// Just over 6 MiB (two 4 MiB blocks): partly compressible, partly not.
    static let content: [UInt8] = {
        var state: UInt64 = 42
        return (0..<(6 << 20) + 999).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return i % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 56) : UInt8(i / 4096 % 251)
        }
    }()
    static let frame = try! LZ4Frame.compress(content)

    @Test func bothChecksumPathsDecodeTheSameBytes() throws {
        #expect(try LZ4Frame.decompress(Self.frame, checksumThread: true) == Self.content)
        #expect(try LZ4Frame.decompress(Self.frame, checksumThread: false) == Self.content)
        // The default picks the thread for a frame this large.
        #expect(Self.content.count >= LZ4Frame.checksumThreadThreshold)
        #expect(try LZ4Frame.decompress(Self.frame) == Self.content)
    }

    @Test(arguments: [true, false])
    func aChangedChecksumOrContentIsRefused(threaded: Bool) throws {
        let n = Self.frame.count
        for offset in [n - 1, n - 2, n - 3, n - 4] + stride(from: 20, to: n - 8, by: n / 16) {
            var bad = Self.frame
            bad[offset] ^= 0x08
            #expect(throws: SnapshotError.self, "byte \(offset)") { try LZ4Frame.decompress(bad, checksumThread: threaded) }
        }
        var bad = Self.frame
        bad[n - 1] ^= 1
        do { _ = try LZ4Frame.decompress(bad, checksumThread: threaded); Issue.record("accepted") } catch {
            #expect(error.description.contains("checksum"), "\(error)")
        }
    }

    @Test func aSmallSnapshotThroughTheThreadedCheck() throws {
        let file = try SnapshotWriter.encode(Examples.generation1)
        #expect(try LZ4Frame.decompress(file, checksumThread: true) == SnapshotWriter.container(Examples.generation1))
        for cut in [file.count - 1, file.count - 6, file.count / 2] {
            #expect(throws: SnapshotError.self) { try LZ4Frame.decompress(Array(file.prefix(cut)), checksumThread: true) }
        }
    }
}
