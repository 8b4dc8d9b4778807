#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import MuseSnapshot

/// A snapshot's size and shape are bounded before its content is trusted:
/// the container's layout is the one a writer makes, nothing in it is
/// unknown or reserved, and a file is read only if it is a regular file
/// whose first bytes promise a snapshot within the limits.
@Suite struct ContainerLimitTests {
    static let good = SnapshotWriter.container(Examples.generation1)

    /// Recomputes the table's hash (the content hash) and the header's, so
    /// the loader meets the edit itself.
    static func rehashTable(_ c: inout [UInt8]) {
        let count = Int(c[32]) | Int(c[33]) << 8
        let table = Array(c[64..<64 + count * 32])
        put(XXH64.hash(table), at: 48, in: &c)
        rehashHeader(&c)
    }

    @Test func aNonZeroReservedHeaderWordIsRefused() throws {
        var c = Self.good
        put(UInt32(1), at: 36, in: &c)
        rehashHeader(&c)
        let e = try #require(refusal(try frame(c)))
        #expect(e.description.contains("reserved word at byte 36"), "\(e)")
    }

    @Test func aNonZeroReservedTableWordIsRefused() throws {
        var c = Self.good
        put(UInt32(7), at: 64 + 32 + 4, in: &c)  // the second entry's reserved word
        Self.rehashTable(&c)
        let e = try #require(refusal(try frame(c)))
        #expect(e.description.contains("entry 1: the reserved word is 7"), "\(e)")
    }

    /// The generation's sections laid out at `offsets` in a container of
    /// `total` bytes, with every hash right.
    static func layout(_ sections: [(SectionKind, [UInt8])], offsets: [Int], total: Int) -> [UInt8] {
        var c = [UInt8](repeating: 0, count: total)
        c.replaceSubrange(0..<8, with: SnapshotFormat.magic)
        put(SnapshotFormat.version, at: 8, in: &c)
        put(UInt32(64), at: 12, in: &c)
        put(UInt64(7), at: 16, in: &c)
        put(UInt32(sections.count), at: 32, in: &c)
        put(UInt64(total), at: 40, in: &c)
        for (i, (kind, bytes)) in sections.enumerated() {
            let entry = 64 + 32 * i
            put(kind.rawValue, at: entry, in: &c)
            put(UInt64(offsets[i]), at: entry + 8, in: &c)
            put(UInt64(bytes.count), at: entry + 16, in: &c)
            put(XXH64.hash(bytes), at: entry + 24, in: &c)
            c.replaceSubrange(offsets[i]..<offsets[i] + bytes.count, with: bytes)
        }
        rehashTable(&c)
        return c
    }

    @Test func theWritersLayoutIsTheOnlyOneAccepted() throws {
        let sections = Examples.generation1.encodedSections()
        var offsets: [Int] = []
        var at = SnapshotContainer.align(64 + 32 * sections.count)
        for (_, bytes) in sections {
            offsets.append(at)
            at = SnapshotContainer.align(at + bytes.count)
        }
        // As written: loads.
        _ = try SnapshotLoader(io: .plainRead).load(bytes: try frame(Self.layout(sections, offsets: offsets, total: at)))
        // A gap of 16 zero bytes before the second section.
        let gapped = offsets.enumerated().map { $0.offset >= 1 ? $0.element + 16 : $0.element }
        var e = try #require(refusal(try frame(Self.layout(sections, offsets: gapped, total: at + 16))))
        #expect(e.description.contains("entry 1: starts at byte \(offsets[1] + 16)"), "\(e)")
        // The first two sections stored in the other order than the table's.
        var misordered = offsets
        misordered[1] = offsets[0]
        misordered[0] = SnapshotContainer.align(offsets[0] + sections[1].1.count)
        e = try #require(refusal(try frame(Self.layout(sections, offsets: misordered,
                                                        total: max(at, SnapshotContainer.align(misordered[0] + sections[0].1.count))))))
        #expect(e.description.contains("entry 0: starts at byte \(misordered[0])"), "\(e)")
        // A megabyte of zeros after the last section.
        e = try #require(refusal(try frame(Self.layout(sections, offsets: offsets, total: at + (1 << 20)))))
        #expect(e.description.contains("last section ends at byte \(at)"), "\(e)")
    }

    @Test func anUnknownSectionKindIsRefused() throws {
        let contents = Examples.generation1
        let c = SnapshotContainer.encode(generationID: contents.generationID, createdAt: contents.createdAt,
                                         rawSections: contents.encodedSections().map { (k, b) in (k.rawValue, b) } + [(42, [1, 2, 3])])
        let e = try #require(refusal(try frame(c)))
        #expect(e.description.contains("section kind 42 is not one this Muse knows"), "\(e)")
    }

    /// A valid header and table describing 64 MiB of zeros in a section the
    /// loader does not know (a frame of a quarter megabyte): refused on the
    /// first decoded block, before the rest is decoded.
    @Test func aBombIsRefusedOnItsFirstBlock() throws {
        let contents = Examples.generation1
        let c = SnapshotContainer.encode(generationID: contents.generationID, createdAt: contents.createdAt,
                                         rawSections: contents.encodedSections().map { (k, b) in (k.rawValue, b) }
                                            + [(42, [UInt8](repeating: 0, count: 64 << 20))])
        let file = try frame(c)
        #expect(file.count < 1 << 20)
        let seen = Mutex<Int>(0)
        let probe = LZ4Frame.Inspection(length: SnapshotContainer.maximumPrefix) { prefix, size throws(SnapshotError) in
            seen.withLock { $0 = prefix.count }
            try SnapshotLoader.headerAndTable.check(prefix, size)
        }
        let e = try file.withUnsafeBytes { bytes in
            try #require(throws: SnapshotError.self) { _ = try LZ4Frame.decompress(bytes, inspect: probe) }
        }
        #expect(e.description.contains("section kind 42"), "\(e)")
        #expect(seen.withLock { $0 } <= 4 << 20, "decoded \(seen.withLock { $0 }) bytes before refusing")
        // And the loader refuses it the same way.
        #expect(refusal(file)?.description.contains("section kind 42") == true)
    }

    @Test func aFrameOverTheConfiguredLimitIsRefusedBeforeDecoding() throws {
        let file = try SnapshotWriter.encode(Examples.generation1)
        let small = SnapshotLoader(io: .plainRead, maximumContentSize: 1024)
        let e = try #require(refusal(file, loader: small))
        #expect(e.description.contains("over the limit of 1024 bytes"), "\(e)")
        let dir = TemporaryDirectory()
        try Data(file).write(to: URL(filePath: dir.path("g.snapshot")))
        let tooBig = SnapshotLoader(io: .plainRead, maximumFileSize: 100)
        #expect(throws: SnapshotError.self) { _ = try tooBig.load(dir.path("g.snapshot")) }
        do { _ = try tooBig.load(dir.path("g.snapshot")) } catch {
            #expect(error.description.contains("over the limit of 100 bytes"), "\(error)")
        }
    }

    @Test func aSnapshotWithoutCanariesIsRefused() throws {
        let c = container(Examples.generation1, replacing: .canaries, with: [0, 0, 0, 0])
        let e = try #require(refusal(try frame(c)))
        #expect(e.description.contains("has no canary event"), "\(e)")
    }

    /// Only regular files are read: a FIFO is refused at once (opened without
    /// blocking: if the open waited for a writer, the writer this test starts
    /// after five seconds would release it, and the time would show), a
    /// directory and a device by their type, a file over the limit by its
    /// size, and a large file that is not a snapshot by its first bytes.
    @Test func onlyRegularFilesAreReadAndOnlyTheirFirstBytesWhenTheyAreNotSnapshots() throws {
        let dir = TemporaryDirectory()
        let fifo = dir.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let release = DispatchWorkItem {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 5, execute: release)
        defer { release.cancel() }
        let started = Date()
        func message(_ path: String, _ loader: SnapshotLoader = SnapshotLoader(io: .plainRead)) -> String {
            do { _ = try loader.load(path); return "accepted" } catch { return error.description }
        }
        #expect(message(fifo).contains("is a FIFO, not a regular file"))
        #expect(Date().timeIntervalSince(started) < 2)
        #expect(message(dir.path("")).contains("is a directory, not a regular file"))
        #expect(message("/dev/zero").contains("is a character device, not a regular file"))
        let large = dir.path("large")
        #expect(FileManager.default.createFile(atPath: large, contents: Data("not a snapshot".utf8)))
        #expect(truncate(large, off_t(SnapshotLoader.defaultMaximumSize + 1)) == 0)
        #expect(message(large).contains("over the limit of \(SnapshotLoader.defaultMaximumSize) bytes"))
        #expect(truncate(large, 256 << 20) == 0)
        #expect(message(large, SnapshotLoader(io: .ioUring)).contains("not an LZ4 frame"))
    }
}
