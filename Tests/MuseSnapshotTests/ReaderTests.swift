import Foundation
import Testing
@testable import MuseSnapshot

@Suite struct ReaderTests {
    /// Both readers, on a file of several chunks with a ragged end, give the
    /// same bytes as were written; small chunks keep many reads in flight.
    @Test(arguments: [IOUringReader(), IOUringReader(chunkSize: 4096, depth: 4), IOUringReader(chunkSize: 65536 + 512, depth: 16)])
    func ioUringAndPlainReadGiveTheSameBytes(uring: IOUringReader) throws {
        let dir = TemporaryDirectory()
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<(3 << 20) + 12345).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let path = dir.path("random")
        try SnapshotWriter.writeFile(bytes, to: path)
        let viaUring = try FileLoader(io: .ioUring, uring: uring).read(path)
        let viaRead = try FileLoader(io: .plainRead).read(path)
        #expect(viaUring.reader == .ioUring && viaRead.reader == .plainRead)
        #expect(viaUring.bytes == bytes)
        #expect(viaRead.bytes == bytes)
    }

    @Test func bothLoadersBuildIdenticalGenerations() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("gen2.muse")
        try SnapshotWriter.write(Examples.generation2, to: path)
        let a = try SnapshotLoader(io: .ioUring, keepModelSources: true).load(path)
        let b = try SnapshotLoader(io: .plainRead, keepModelSources: true).load(path)
        #expect(a.reader == .ioUring && b.reader == .plainRead)
        #expect(a.fallbackReason == nil)
        #expect(a.contentHash == b.contentHash && a.sections == b.sections)
        #expect(a.contents.models.map(\.source) == b.contents.models.map(\.source))
        #expect(scoreBits(a.routingTable, a.contents) == scoreBits(b.routingTable, b.contents))
    }

    @Test func emptyAndMissingFiles() throws {
        let dir = TemporaryDirectory()
        let empty = dir.path("empty")
        try SnapshotWriter.writeFile([], to: empty)
        #expect(try FileLoader(io: .ioUring).read(empty).bytes.isEmpty)
        let missing = SnapshotError.io("")
        do { _ = try SnapshotLoader().load(dir.path("nope")); Issue.record("loaded a missing file") } catch {
            guard case .io(let why) = error else { Issue.record("\(error) is not \(missing)"); return }
            #expect(why.contains("ENOENT"))
        }
        #expect(throws: FileTooLarge.self) { try FileLoader(io: .plainRead).read(empty, limit: -1) }
    }

    /// `.auto` falls back to plain read when io_uring_setup fails, and says
    /// why. A ring too large for the kernel (EINVAL) stands in for the
    /// ENOSYS or EPERM of a kernel or sandbox without io_uring.
    @Test func autoFallsBackWhenTheRingCannotBeSetUp() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("gen1.muse")
        try SnapshotWriter.write(Examples.generation1, to: path)
        let unavailable = IOUringReader(depth: 1 << 20)
        #expect(throws: IOUringUnavailable.self) { try FileLoader(io: .ioUring, uring: unavailable).read(path) }
        let g = try SnapshotLoader(io: .auto, uring: unavailable).load(path)
        #expect(g.reader == .plainRead)
        let why = try #require(g.fallbackReason)
        #expect(why.contains("io_uring_setup failed with EINVAL") && why.contains("plain read"), "\(why)")
        // With a ring the kernel accepts, .auto uses it and says nothing.
        let normal = try SnapshotLoader(io: .auto).load(path)
        #expect(normal.reader == .ioUring && normal.fallbackReason == nil)
    }

    @Test func unavailabilityIsExplained() {
        let e = IOUringUnavailable(errno: Errno(rawValue: ENOSYS))
        #expect(e.description.contains("ENOSYS") && e.description.contains("plain read"))
        #expect(IOUringUnavailable(errno: .notPermitted).description.contains("EPERM"))
    }
}
