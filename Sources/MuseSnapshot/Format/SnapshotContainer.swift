/// The self-describing container inside the LZ4 frame:
///
///     header (64 bytes)
///       0  magic "MUSESNAP"            8 bytes
///       8  format version              u32
///      12  header size (64)            u32
///      16  generation id               u64
///      24  creation time (unix s)      u64
///      32  section count               u32
///      36  reserved (0)                u32
///      40  container length            u64
///      48  content hash                u64  xxh64 of the section table
///      56  header hash                 u64  xxh64 of bytes 0..<56
///     section table: count × 32 bytes
///       kind u32, reserved u32, offset u64, length u64, xxh64 of the section u64
///     sections, each at a multiple of 16, zero padding between
///
/// Every integer is little-endian. Because the table carries each section's
/// hash, hashing the table (the content hash) identifies the whole content.
struct SnapshotContainer {
    struct Header: Equatable {
        var version: UInt32
        var generationID: UInt64
        var createdAt: UInt64
        var contentHash: UInt64
    }

    /// Lays `sections` out behind a header.
    static func encode(generationID: UInt64, createdAt: UInt64, sections: [(SectionKind, [UInt8])]) -> [UInt8] {
        encode(generationID: generationID, createdAt: createdAt, rawSections: sections.map { ($0.0.rawValue, $0.1) })
    }

    /// `encode` with the kinds as numbers (tests write kinds no reader knows).
    static func encode(generationID: UInt64, createdAt: UInt64, rawSections sections: [(UInt32, [UInt8])]) -> [UInt8] {
        let tableEnd = SnapshotFormat.headerSize + sections.count * SnapshotFormat.entrySize
        var table = ByteWriter()
        var offset = align(tableEnd)
        for (kind, bytes) in sections {
            table.u32(kind); table.u32(0)
            table.u64(UInt64(offset)); table.u64(UInt64(bytes.count))
            table.u64(XXH64.hash(bytes))
            offset = align(offset + bytes.count)
        }
        let total = offset
        var header = ByteWriter()
        header.bytes.append(contentsOf: SnapshotFormat.magic)
        header.u32(SnapshotFormat.version)
        header.u32(UInt32(SnapshotFormat.headerSize))
        header.u64(generationID)
        header.u64(createdAt)
        header.u32(UInt32(sections.count))
        header.u32(0)
        header.u64(UInt64(total))
        header.u64(XXH64.hash(table.bytes))
        header.u64(XXH64.hash(header.bytes))
        var out = header.bytes
        out.reserveCapacity(total)
        out += table.bytes
        for (_, bytes) in sections {
            out += [UInt8](repeating: 0, count: align(out.count) - out.count)
            out += bytes
        }
        out += [UInt8](repeating: 0, count: total - out.count)
        return out
    }

    /// Bytes outside every section (alignment padding) are covered by no
    /// hash, so they must be zero: otherwise a flipped bit there would go
    /// unnoticed, and two files with one content hash could differ.
    static func checkPadding(_ c: UnsafeRawBufferPointer, from tableEnd: Int, _ infos: [SectionInfo]) throws(SnapshotError) {
        var position = tableEnd
        for s in infos.sorted(by: { $0.offset < $1.offset }) {
            let start = Int(s.offset)
            guard start >= position else { throw .malformedSection(s.name, "overlaps the section before it") }
            if let i = c[position..<start].firstIndex(where: { $0 != 0 }) {
                throw .malformedHeader("padding byte at \(i) before section '\(s.name)' is not zero")
            }
            position = start + Int(s.length)
        }
        if let i = c[position...].firstIndex(where: { $0 != 0 }) {
            throw .malformedHeader("padding byte at \(i) after the last section is not zero")
        }
    }

    static func align(_ n: Int) -> Int { (n + SnapshotFormat.sectionAlignment - 1) / SnapshotFormat.sectionAlignment * SnapshotFormat.sectionAlignment }

    /// The most bytes a header and its table can take: what `readTable`
    /// needs to see.
    static let maximumPrefix = SnapshotFormat.headerSize + SnapshotFormat.maximumSections * SnapshotFormat.entrySize

    /// Reads the header and the section table, checking each field before
    /// it is used and every section's hash. Returns the header, the table,
    /// and each section's bytes.
    static func decode(_ c: UnsafeRawBufferPointer) throws(SnapshotError) -> (Header, [SectionInfo], [SectionKind: UnsafeRawBufferPointer]) {
        let (header, infos, tableEnd) = try readTable(c, length: c.count)
        var sections = [SectionKind: UnsafeRawBufferPointer]()
        for info in infos {
            let bytes = UnsafeRawBufferPointer(rebasing: c[Int(info.offset)..<Int(info.offset + info.length)])
            let computed = XXH64.hash(bytes)
            guard computed == info.checksum else { throw .checksumMismatch(section: info.name, recorded: info.checksum, computed: computed) }
            sections[SectionKind(rawValue: info.kind)!] = bytes
        }
        try checkPadding(c, from: tableEnd, infos)
        return (header, infos, sections)
    }

    /// Checks the header and the section table from the container's first
    /// bytes (`prefix`, at least `maximumPrefix` of them unless the container
    /// is shorter) for a container of `length` bytes: everything but the
    /// sections' own hashes and the padding. The loader runs it on the first
    /// decoded block, so a frame whose content is not a snapshot, or whose
    /// table does not describe the declared size, is refused before the rest
    /// is decoded. Returns the header, the table, and where the table ends.
    static func readTable(_ c: UnsafeRawBufferPointer, length: Int) throws(SnapshotError) -> (Header, [SectionInfo], Int) {
        guard c.count >= 8, c.prefix(8).elementsEqual(SnapshotFormat.magic) else {
            throw .badMagic(found: Array(c.prefix(8)))
        }
        guard c.count >= SnapshotFormat.headerSize else {
            throw .malformedHeader("the container is \(c.count) bytes, shorter than its \(SnapshotFormat.headerSize)-byte header")
        }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: c[0..<SnapshotFormat.headerSize]), section: "header")
        _ = try r.take(8, "magic")
        let version = try r.u32("format version")
        // The version is checked before anything else a newer format may have changed.
        guard version <= SnapshotFormat.version else { throw .unsupportedVersion(found: version, supported: SnapshotFormat.version) }
        guard version >= 1 else { throw .malformedHeader("format version 0 does not exist") }
        let headerSize = try r.u32("header size")
        let generationID = try r.u64("generation id")
        let createdAt = try r.u64("creation time")
        let sectionCount = Int(try r.u32("section count"))
        let reserved = try r.u32("reserved")
        let declaredLength = try r.u64("container length")
        let contentHash = try r.u64("content hash")
        let headerHash = try r.u64("header hash")
        let computedHeaderHash = XXH64.hash(UnsafeRawBufferPointer(rebasing: c[0..<56]))
        guard headerHash == computedHeaderHash else {
            throw .checksumMismatch(section: "header", recorded: headerHash, computed: computedHeaderHash)
        }
        guard headerSize == UInt32(SnapshotFormat.headerSize) else { throw .malformedHeader("header size \(headerSize), expected \(SnapshotFormat.headerSize)") }
        guard reserved == 0 else { throw .malformedHeader("the reserved word at byte 36 is \(reserved), not 0") }
        guard declaredLength == UInt64(length) else {
            throw .malformedHeader("the header says the container is \(declaredLength) bytes but \(length) were decoded")
        }
        guard sectionCount <= SnapshotFormat.maximumSections else {
            throw .malformedHeader("\(sectionCount) sections is more than the \(SnapshotFormat.maximumSections) allowed")
        }
        let tableEnd = SnapshotFormat.headerSize + sectionCount * SnapshotFormat.entrySize
        guard tableEnd <= length, tableEnd <= c.count else {
            throw .malformedHeader("a table of \(sectionCount) sections does not fit in \(length) bytes")
        }
        let tableBytes = UnsafeRawBufferPointer(rebasing: c[SnapshotFormat.headerSize..<tableEnd])
        let computedContent = XXH64.hash(tableBytes)
        guard computedContent == contentHash else {
            throw .checksumMismatch(section: "section table", recorded: contentHash, computed: computedContent)
        }
        var t = ByteReader(tableBytes, section: "section table")
        var infos = [SectionInfo]()
        var seen = Set<SectionKind>()
        // Sections lie in table order, each at the first aligned offset after
        // the one before, and the container ends at the last one's aligned
        // end: the only layout `encode` writes. Padding is then under 16
        // bytes per gap, so a declared length cannot hide a run of zeros.
        var expectedOffset = UInt64(align(tableEnd))
        for i in 0..<sectionCount {
            let kind = try t.u32("kind")
            let reservedWord = try t.u32("reserved")
            let offset = try t.u64("offset"), len = try t.u64("length"), sum = try t.u64("checksum")
            let info = SectionInfo(kind: kind, offset: offset, length: len, checksum: sum)
            guard reservedWord == 0 else {
                throw .malformedSection(info.name, "entry \(i): the reserved word is \(reservedWord), not 0")
            }
            guard offset >= UInt64(tableEnd), offset <= UInt64(length), len <= UInt64(length) - offset else {
                throw .malformedSection(info.name, "entry \(i): bytes \(offset)..<\(offset &+ len) lie outside the \(length)-byte container")
            }
            guard offset == expectedOffset else {
                throw .malformedSection(info.name, "entry \(i): starts at byte \(offset), but the section before it ends at byte \(expectedOffset) (sections follow one another in table order)")
            }
            expectedOffset = UInt64(align(Int(offset + len)))
            // A kind this version does not know may change what the rest
            // means (a newer writer's section): serving without it could
            // mis-score, so the generation is refused rather than guessed at.
            guard let k = SectionKind(rawValue: kind) else {
                throw .malformedSection(info.name, "entry \(i): section kind \(kind) is not one this Muse knows (1–\(SectionKind.allCases.count)); was the snapshot written by a newer Muse?")
            }
            guard seen.insert(k).inserted else { throw .malformedSection(k.name, "appears twice in the section table") }
            infos.append(info)
        }
        guard expectedOffset == UInt64(length) else {
            throw .malformedHeader("the container is \(length) bytes but its last section ends at byte \(expectedOffset)")
        }
        return (Header(version: version, generationID: generationID, createdAt: createdAt, contentHash: contentHash), infos, tableEnd)
    }
}
