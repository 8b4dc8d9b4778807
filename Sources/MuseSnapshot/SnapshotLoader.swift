import MuseScoring
import Foundation

/// Loads a snapshot file into a verified, ready-to-serve generation:
/// read (io_uring or plain read) → decode (LZ4 frame) → verify (header,
/// section table and every section's xxh64) → import (flat models, maps,
/// routing table) → check (intents, routes, canaries bit for bit). Any
/// failure is a `SnapshotError` naming the section and the reason; nothing
/// is half-loaded.
///
/// Safe to call from any thread; it holds no state between loads.
public struct SnapshotLoader: Sendable {
    public var io: SnapshotIO
    public var uring: IOUringReader
    /// Files larger than this are refused before anything is read.
    public var maximumFileSize: Int
    /// Containers declaring a larger decoded size are refused before
    /// anything past the frame header is read or allocated.
    public var maximumContentSize: Int
    /// Keep the file's bytes in the result (`LoadedSnapshot.fileBytes`), to
    /// record exactly what was verified without reading the file again.
    public var keepFileBytes: Bool
    /// Copy the model source text out of the file (for audit, `inspect`);
    /// off for serving, where it is only checksummed.
    public var keepModelSources: Bool

    /// Check the LZ4 frame's content checksum (XXH32 of the decoded bytes).
    /// The container's own hashes cover the same bytes, but without this a
    /// corrupted checksum field (the file's last 4 bytes) would go unseen;
    /// turning it off saves about a third of the decode time.
    public var verifyFrameChecksum: Bool

    public init(io: SnapshotIO = .auto, uring: IOUringReader = IOUringReader(),
                maximumFileSize: Int = SnapshotLoader.defaultMaximumSize,
                maximumContentSize: Int = SnapshotLoader.defaultMaximumSize, keepModelSources: Bool = false,
                verifyFrameChecksum: Bool = true, keepFileBytes: Bool = false) {
        self.keepFileBytes = keepFileBytes
        self.verifyFrameChecksum = verifyFrameChecksum
        self.io = io
        self.uring = uring
        self.maximumFileSize = maximumFileSize
        self.maximumContentSize = maximumContentSize
        self.keepModelSources = keepModelSources
    }

    /// The default of both size limits: 512 MiB, above the largest
    /// generations measured (a 262 MB file decoding to 320 MB: 3.9 M tree
    /// nodes and their text) and far below what would hurt a host.
    public static let defaultMaximumSize = 512 << 20

    /// Reads and loads `path`. Only a regular file is read (a FIFO or a
    /// device is refused without waiting on it), and its frame header is
    /// checked from its first bytes, so a file that is not a snapshot, or
    /// one that would decode past the limits, costs one small read.
    public func load(_ path: String) throws(SnapshotError) -> LoadedSnapshot {
        let clock = ContinuousClock()
        let start = clock.now
        let file: FileBytes
        let contentLimit = maximumContentSize
        do {
            file = try FileLoader(io: io, uring: uring).read(path, limit: maximumFileSize) { prefix, size in
                _ = try LZ4Frame.checkHeader(prefix, compressedSize: size, limit: contentLimit)
            }
        } catch let error as SnapshotError {
            throw error
        } catch let error as FileTooLarge {
            throw .io("\(path) is \(error.size) bytes, over the limit of \(error.limit) bytes (raise the snapshot size limit if the generation is really this large)")
        } catch {
            throw .io("\(path): \(error)")
        }
        let read = clock.now - start
        return try load(file, readDuration: read)
    }

    /// Loads from bytes already in memory (e.g. a test's), as if just read.
    public func load(bytes: [UInt8]) throws(SnapshotError) -> LoadedSnapshot {
        let buffer: LargeBuffer
        do { buffer = try LargeBuffer(count: bytes.count) } catch { throw .io("\(error)") }
        if !bytes.isEmpty { bytes.withUnsafeBytes { buffer.mutableBytes.copyMemory(from: $0) } }
        return try load(FileBytes(buffer: buffer, reader: .plainRead, fallbackReason: nil), readDuration: .zero)
    }

    private func load(_ file: FileBytes, readDuration: Duration) throws(SnapshotError) -> LoadedSnapshot {
        let clock = ContinuousClock()
        let t0 = clock.now
        let container = try withExtendedLifetime(file.buffer) { () throws(SnapshotError) in
            try LZ4Frame.decompress(file.buffer.bytes, limit: maximumContentSize, verifyContentChecksum: verifyFrameChecksum,
                                    inspect: Self.headerAndTable)
        }
        let t1 = clock.now
        var steps = Steps()
        let parts = try withExtendedLifetime(container) { () throws(SnapshotError) in try verifyAndImport(container.bytes, &steps) }
        return LoadedSnapshot(
            parts: parts, fileSize: file.buffer.count, containerSize: container.count,
            fileBytes: keepFileBytes ? file.buffer : nil, reader: file.reader,
            fallbackReason: file.fallbackReason,
            timings: LoadTimings(read: readDuration, decode: t1 - t0, verify: steps.checksums + steps.checks,
                                 import: steps.import))
    }

    /// The container's header and table, checked on the first decoded block.
    static let headerAndTable = LZ4Frame.Inspection(length: SnapshotContainer.maximumPrefix) { prefix, size throws(SnapshotError) in
        _ = try SnapshotContainer.readTable(prefix, length: size)
    }

    private struct Steps {
        var checksums = Duration.zero
        var `import` = Duration.zero
        var checks = Duration.zero
    }

    private func verifyAndImport(_ c: UnsafeRawBufferPointer, _ steps: inout Steps) throws(SnapshotError) -> LoadedSnapshot.Parts {
        let clock = ContinuousClock()
        let t0 = clock.now
        let (header, infos, sections) = try SnapshotContainer.decode(c)
        let t1 = clock.now
        let contents = try SnapshotContents.decode(header: header, sections: sections, keepModelSources: keepModelSources)
        let table = try contents.routingTable()
        let t2 = clock.now
        try Canaries.requireCoverage(contents.canaries, routes: contents.routes)
        try Canaries.verify(contents.canaries, table: table)
        let t3 = clock.now
        steps.checksums = t1 - t0
        steps.import = t2 - t1
        steps.checks = t3 - t2
        return LoadedSnapshot.Parts(formatVersion: header.version, contentHash: header.contentHash,
                                    sections: infos, contents: contents, routingTable: table)
    }
}

/// How long each step of a load took.
public struct LoadTimings: Sendable, Equatable {
    /// Reading the file's bytes.
    public var read: Duration
    /// Decoding the LZ4 frame (with its content checksum).
    public var decode: Duration
    /// Header, section checksums, intents/routes and canaries.
    public var verify: Duration
    /// Flat models, maps and the routing table built from the sections.
    public var `import`: Duration

    public var total: Duration { read + decode + verify + `import` }
}
