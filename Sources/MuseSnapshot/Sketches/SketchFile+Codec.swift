import MuseScoring

/// Why a sketch file was refused; every case says what is wrong with it.
public struct SketchFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "sketch file: \(reason)" }
}

/// The sketch export format (docs/sketch-format.md): a 32-byte header
/// (magic, version, body length, XXH64 of the body), then the body: the
/// host, the bin layout, and the entries with their nonempty bins only.
extension SketchFile {
    public static let magic: [UInt8] = Array("MUSESKCH".utf8)
    public static let formatVersion: UInt32 = 1
    static let headerSize = 32
    /// Most entries a file may hold (tenants × predictors of many hosts).
    public static let maximumEntries = 1 << 20

    public func encoded() -> [UInt8] {
        var body = ByteWriter()
        body.string(host)
        body.u32(UInt32(ScoreSketch.mantissaBits))
        body.i32(Int32(ScoreSketch.smallestExponent))
        body.u32(UInt32(ScoreSketch.binCount))
        body.count(entries.count)
        for entry in entries {
            body.string(entry.tenant)
            body.string(entry.predictor)
            body.u64(entry.fingerprint)
            body.u64(entry.windowStart)
            body.u64(entry.windowEnd)
            body.u64(entry.sketch.count)
            body.u64(entry.sketch.nonFinite)
            let bins = entry.sketch.counts.enumerated().filter { $0.element > 0 }
            body.count(bins.count)
            for (index, count) in bins {
                body.u32(UInt32(index))
                body.u64(count)
            }
        }
        var file = ByteWriter()
        file.bytes = Self.magic
        file.u32(Self.formatVersion)
        file.u32(0)
        file.u64(UInt64(body.bytes.count))
        file.u64(XXH64.hash(body.bytes))
        return file.bytes + body.bytes
    }

    /// Decodes a file, checking everything: magic, version, length,
    /// checksum, the bin layout, every count against the bytes left, bin
    /// indices in range and increasing, each entry's total against its bins.
    public init(decoding bytes: [UInt8]) throws(SketchFileError) {
        guard bytes.count >= Self.headerSize else {
            throw SketchFileError("\(bytes.count) bytes is shorter than the \(Self.headerSize)-byte header")
        }
        guard Array(bytes[0..<8]) == Self.magic else {
            throw SketchFileError("not a Muse sketch file: it does not start with \"MUSESKCH\"")
        }
        let parsed: Result<SketchFile, SketchFileError> = bytes.withUnsafeBytes { raw in
            do throws(SnapshotError) {
                var header = ByteReader(UnsafeRawBufferPointer(rebasing: raw[8..<Self.headerSize]), section: "header")
                let version = try header.u32("format version")
                guard version == Self.formatVersion else {
                    return .failure(SketchFileError(
                        "format version \(version) is not the version this Muse reads (\(Self.formatVersion))"))
                }
                _ = try header.u32("reserved")
                let length = try header.u64("body length")
                let recorded = try header.u64("checksum")
                guard length == UInt64(raw.count - Self.headerSize) else {
                    return .failure(SketchFileError(
                        "the header records a \(length)-byte body but \(raw.count - Self.headerSize) bytes follow it: the file is truncated or has trailing bytes"))
                }
                let bodyBytes = UnsafeRawBufferPointer(rebasing: raw[Self.headerSize...])
                let computed = XXH64.hash(bodyBytes)
                guard computed == recorded else {
                    return .failure(SketchFileError(
                        "checksum mismatch (recorded xxh64 \(hex(recorded)), computed \(hex(computed))): the file is corrupt"))
                }
                var body = ByteReader(bodyBytes, section: "body")
                return try Self.decodeBody(&body)
            } catch {
                return .failure(SketchFileError(error.description))
            }
        }
        self = try parsed.get()
    }

    private static func decodeBody(_ body: inout ByteReader) throws(SnapshotError) -> Result<SketchFile, SketchFileError> {
        let host = try body.string("host")
        let bits = try body.u32("mantissa bits")
        let exponent = try body.i32("smallest exponent")
        let binCount = try body.u32("bin count")
        guard bits == ScoreSketch.mantissaBits, exponent == ScoreSketch.smallestExponent,
              binCount == ScoreSketch.binCount else {
            return .failure(SketchFileError(
                "bin layout \(bits) mantissa bits from 2^\(exponent), \(binCount) bins, is not this Muse's (\(ScoreSketch.mantissaBits) bits from 2^\(ScoreSketch.smallestExponent), \(ScoreSketch.binCount) bins)"))
        }
        // An entry is at least two empty strings and 6 u64s and a count.
        let entryCount = try body.count("entry", minimumSize: 4 + 4 + 48 + 4)
        guard entryCount <= maximumEntries else {
            return .failure(SketchFileError("\(entryCount) entries is more than the \(maximumEntries) a file may hold"))
        }
        var entries = [SketchEntry]()
        entries.reserveCapacity(entryCount)
        for e in 0..<entryCount {
            let tenant = try body.string("entry \(e + 1) tenant")
            let predictor = try body.string("entry \(e + 1) predictor")
            let fingerprint = try body.u64("entry \(e + 1) fingerprint")
            let start = try body.u64("entry \(e + 1) window start")
            let end = try body.u64("entry \(e + 1) window end")
            let events = try body.u64("entry \(e + 1) events")
            let nonFinite = try body.u64("entry \(e + 1) non-finite events")
            let where_ = "entry \(e + 1) (\(tenant)/\(predictor))"
            guard start <= end else {
                return .failure(SketchFileError("\(where_): window starts at \(start) ns, after its end at \(end) ns"))
            }
            let bins = try body.count("\(where_) bin", minimumSize: 12)
            guard bins <= ScoreSketch.binCount else {
                return .failure(SketchFileError("\(where_): \(bins) nonempty bins, more than the \(ScoreSketch.binCount) there are"))
            }
            var sketch = ScoreSketch()
            sketch.nonFinite = nonFinite
            var previous = -1
            var total: UInt64 = 0
            for _ in 0..<bins {
                let index = Int(try body.u32("\(where_) bin index"))
                let count = try body.u64("\(where_) bin count")
                guard index > previous, index < ScoreSketch.binCount else {
                    return .failure(SketchFileError(
                        "\(where_): bin index \(index) is out of order or past the last bin (\(ScoreSketch.binCount - 1))"))
                }
                let (sum, overflow) = total.addingReportingOverflow(count)
                guard !overflow else { return .failure(SketchFileError("\(where_): bin counts overflow 64 bits")) }
                total = sum
                previous = index
                sketch.add(bin: index, count)
            }
            guard total == events else {
                return .failure(SketchFileError("\(where_): records \(events) events but its bins hold \(total)"))
            }
            entries.append(SketchEntry(tenant: tenant, predictor: predictor, fingerprint: fingerprint,
                                       windowStart: start, windowEnd: end, sketch: sketch))
        }
        guard body.isAtEnd else {
            return .failure(SketchFileError("\(body.remaining) bytes after the last entry"))
        }
        return .success(SketchFile(host: host, entries: entries))
    }
}
