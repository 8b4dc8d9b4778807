import CLZ4

/// The LZ4 frame format (what the `lz4` tool reads and writes), through
/// liblz4. Snapshots are one frame with the content checksum on and the
/// content size recorded, so `lz4 -d` opens them and the decoder knows the
/// size to allocate before it starts.
public enum LZ4Frame {
    /// Compresses `bytes` into one frame: 4 MiB independent blocks (linked
    /// blocks compress a little better but measured 1.5x slower to decode
    /// with liblz4 1.9.4), content size and content checksum (XXH32 of the
    /// decoded bytes) in the frame.
    public static func compress(_ bytes: [UInt8], level: Int32 = 0) throws(SnapshotError) -> [UInt8] {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.blockSizeID = LZ4F_max4MB
        prefs.frameInfo.blockMode = LZ4F_blockIndependent
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        prefs.frameInfo.contentSize = UInt64(bytes.count)
        prefs.compressionLevel = level
        let bound = LZ4F_compressFrameBound(bytes.count, &prefs)
        var failure: String?
        let out = [UInt8](unsafeUninitializedCapacity: bound) { dst, written in
            let n = bytes.withUnsafeBytes { src in
                LZ4F_compressFrame(dst.baseAddress, bound, src.baseAddress, src.count, &prefs)
            }
            if LZ4F_isError(n) != 0 {
                failure = String(cString: LZ4F_getErrorName(n))
                written = 0
            } else {
                written = n
            }
        }
        if let failure { throw .lz4("compression failed: \(failure)") }
        return out
    }

    /// Decodes one frame into a buffer of its declared size. `limit` caps
    /// that size, and it must be plausible for the input (LZ4 cannot expand
    /// a byte more than 255-fold), so a hostile header cannot make the
    /// decoder allocate more than the file could hold.
    ///
    /// `verifyContentChecksum` checks the frame's XXH32 of the decoded bytes.
    /// For a large frame (`checksumThreadThreshold`, or as `checksumThread`
    /// says) Muse hashes on a second thread, block by block behind the
    /// decoder; otherwise liblz4 checks it while decoding. The container
    /// hashes its bytes itself, so this mostly guards the checksum field;
    /// off, decoding runs at the speed of the bare LZ4 decoder.
    ///
    /// `inspect` sees the first `inspect.length` decoded bytes (all of them
    /// if fewer) as soon as they are decoded, before the rest: a refusal
    /// there costs one block of decoding, whatever size the frame declares.
    public static func decompress(_ src: UnsafeRawBufferPointer, limit: Int = .max, verifyContentChecksum: Bool = true,
                                  checksumThread: Bool? = nil, inspect: Inspection? = nil) throws(SnapshotError) -> LargeBuffer {
        let dctx = try makeContext()
        defer { LZ4F_freeDecompressionContext(dctx) }
        let (info, consumed, h) = try readHeader(dctx, src, compressedSize: src.count, limit: limit)
        let size = info.contentSize
        let out: LargeBuffer
        do { out = try LargeBuffer(count: Int(size)) } catch { throw .lz4("cannot allocate \(size) bytes: \(error)") }
        let threaded = verifyContentChecksum && (checksumThread ?? (size >= UInt64(checksumThreadThreshold)))
        if threaded {
            try decodeBlocks(dctx, src, info, from: consumed, hint: h, into: out.mutableBytes, inspect: inspect)
        } else {
            try decode(dctx, src, info, from: consumed, hint: h, into: out.mutableBytes,
                       verifyContentChecksum: verifyContentChecksum, inspect: inspect)
        }
        return out
    }

    /// A look at the start of the decoded content (see `decompress`):
    /// `check` gets the first bytes and the whole content's size.
    public struct Inspection: Sendable {
        public var length: Int
        public var check: @Sendable (_ prefix: UnsafeRawBufferPointer, _ contentSize: Int) throws(SnapshotError) -> Void

        public init(length: Int, check: @escaping @Sendable (_ prefix: UnsafeRawBufferPointer, _ contentSize: Int) throws(SnapshotError) -> Void) {
            self.length = length
            self.check = check
        }

        /// Runs the check once `produced` bytes cover what it wants; true once it has run.
        func runIfReady(_ dst: UnsafeMutableRawBufferPointer, produced: Int) throws(SnapshotError) -> Bool {
            guard produced >= min(length, dst.count) else { return false }
            try check(UnsafeRawBufferPointer(rebasing: dst[0..<produced]), dst.count)
            return true
        }
    }

    /// The bytes of the next block at `inPos` (its size field, data and
    /// block checksum), or of the end mark and content checksum; at most
    /// what is left.
    private static func blockLength(_ src: UnsafeRawBufferPointer, at inPos: Int, blockChecksum: Int) -> Int {
        let left = src.count - inPos
        guard left >= 4 else { return left }
        let field = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: inPos, as: UInt32.self))
        return min(left, field == 0 ? 4 : 4 + Int(field & 0x7FFF_FFFF) + blockChecksum)
    }

    /// Checks a frame's header from the file's first bytes, before the rest
    /// is read: the magic, a recorded content size within `limit` and
    /// plausible for `compressedSize`, a content checksum. Returns the
    /// declared content size.
    public static func checkHeader(_ prefix: UnsafeRawBufferPointer, compressedSize: Int, limit: Int) throws(SnapshotError) -> Int {
        let dctx = try makeContext()
        defer { LZ4F_freeDecompressionContext(dctx) }
        return Int(try readHeader(dctx, prefix, compressedSize: compressedSize, limit: limit).info.contentSize)
    }

    private static func makeContext() throws(SnapshotError) -> OpaquePointer {
        var dctx: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&dctx, UInt32(LZ4F_VERSION))) == 0, let dctx else {
            throw .lz4("cannot create a decompression context")
        }
        return dctx
    }

    /// The frame header at the start of `src` (all of the frame, or only its
    /// first bytes), checked as `checkHeader` says; `hint` is liblz4's
    /// suggestion for the next read.
    private static func readHeader(_ dctx: OpaquePointer, _ src: UnsafeRawBufferPointer, compressedSize: Int,
                                   limit: Int) throws(SnapshotError) -> (info: LZ4F_frameInfo_t, consumed: Int, hint: Int) {
        guard src.count >= 4, src.loadUnaligned(as: UInt32.self) == UInt32(0x184D2204).littleEndian else {
            throw .lz4("not an LZ4 frame (no LZ4 frame magic at the start of the file): not a Muse snapshot")
        }
        var info = LZ4F_frameInfo_t()
        var consumed = src.count
        let h = LZ4F_getFrameInfo(dctx, &info, src.baseAddress, &consumed)
        guard LZ4F_isError(h) == 0 else {
            let name = String(cString: LZ4F_getErrorName(h))
            throw .lz4("bad frame header: \(name)" + (name.contains("incomplete") ? " (the file is truncated)" : ""))
        }
        guard info.contentSize > 0 else {
            throw .lz4("the frame does not record its content size (snapshots always do)")
        }
        guard info.contentChecksumFlag == LZ4F_contentChecksumEnabled else {
            throw .lz4("the frame has no content checksum (snapshots always have one)")
        }
        let size = info.contentSize
        guard size <= UInt64(max(limit, 0)) else {
            throw .lz4("the frame declares \(size) bytes of content, over the limit of \(limit) bytes (raise the snapshot size limit if the generation is really this large)")
        }
        // LZ4 cannot expand a byte more than 255-fold.
        guard size <= UInt64(compressedSize) * 256 + 65536 else {
            throw .lz4("the frame declares \(size) bytes of content, implausible for \(compressedSize) compressed bytes (truncated or corrupt)")
        }
        return (info, consumed, h)
    }

    /// Decodes a frame into `dst`, which must be exactly its content size;
    /// for benchmarks that reuse one buffer (as `lz4 -b` does).
    public static func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer,
                                  verifyContentChecksum: Bool = true) throws(SnapshotError) {
        let dctx = try makeContext()
        defer { LZ4F_freeDecompressionContext(dctx) }
        var info = LZ4F_frameInfo_t()
        var consumed = src.count
        let h = LZ4F_getFrameInfo(dctx, &info, src.baseAddress, &consumed)
        guard LZ4F_isError(h) == 0, info.contentSize == UInt64(dst.count) else { throw .lz4("bad frame header or wrong buffer size") }
        try decode(dctx, src, info, from: consumed, hint: h, into: dst, verifyContentChecksum: verifyContentChecksum, inspect: nil)
    }

    /// Decodes the rest of the frame in as few calls to liblz4 as it takes
    /// (one block at a time only until `inspect` has run).
    private static func decode(_ dctx: OpaquePointer, _ src: UnsafeRawBufferPointer, _ info: LZ4F_frameInfo_t,
                               from consumed: Int, hint h: Int, into dst: UnsafeMutableRawBufferPointer,
                               verifyContentChecksum: Bool, inspect: Inspection?) throws(SnapshotError) {
        let size = dst.count
        let blockChecksum = info.blockChecksumFlag == LZ4F_blockChecksumEnabled ? 4 : 0
        var inspected = inspect == nil
        var opts = LZ4F_decompressOptions_t()
        opts.stableDst = 1
        opts.skipChecksums = verifyContentChecksum ? 0 : 1
        var produced = 0
        var inPos = consumed
        var hint = h
        while hint != 0 {
            guard inPos < src.count else { throw .lz4("decoding stopped after \(produced) of \(size) bytes: the frame is truncated") }
            var dstSize = dst.count - produced
            var srcSize = inspected ? src.count - inPos : blockLength(src, at: inPos, blockChecksum: blockChecksum)
            hint = LZ4F_decompress(dctx, dst.baseAddress.map { $0 + produced }, &dstSize, src.baseAddress! + inPos, &srcSize, &opts)
            if LZ4F_isError(hint) != 0 {
                let name = String(cString: LZ4F_getErrorName(hint))
                if name.contains("contentChecksum") {
                    throw .lz4("content checksum mismatch: the decoded content does not hash to the frame's XXH32")
                }
                throw .lz4("decoding failed: \(name)")
            }
            produced += dstSize
            inPos += srcSize
            if !inspected, let inspect { inspected = try inspect.runIfReady(dst, produced: produced) }
            if srcSize == 0 && dstSize == 0 && hint != 0 { throw .lz4("the decoder made no progress after \(produced) bytes") }
        }
        guard produced == Int(size) else { throw .lz4("the frame decoded to \(produced) bytes but declares \(size)") }
        guard inPos == src.count else { throw .lz4("\(src.count - inPos) bytes follow the end of the frame") }
    }

    /// Frames at least this large have their checksum computed on a second
    /// thread (below it, a thread costs more than it saves).
    public static let checksumThreadThreshold = 4 << 20

    /// Decodes one block per call to liblz4 (each straight into `dst`) with
    /// liblz4's checksum off, telling a `ChecksumThread` how far the output
    /// has got after each; then compares its XXH32 with the frame's.
    private static func decodeBlocks(_ dctx: OpaquePointer, _ src: UnsafeRawBufferPointer, _ info: LZ4F_frameInfo_t,
                                     from consumed: Int, hint h: Int, into dst: UnsafeMutableRawBufferPointer,
                                     inspect: Inspection?) throws(SnapshotError) {
        let size = dst.count
        var inspected = inspect == nil
        let hasher = ChecksumThread(UnsafeRawBufferPointer(dst))
        defer { hasher.cancel() }
        let blockChecksum = info.blockChecksumFlag == LZ4F_blockChecksumEnabled ? 4 : 0
        var opts = LZ4F_decompressOptions_t()
        opts.stableDst = 1
        opts.skipChecksums = 1
        var produced = 0
        var inPos = consumed
        var hint = h
        while hint != 0 {
            guard inPos < src.count else { throw .lz4("decoding stopped after \(produced) of \(size) bytes: the frame is truncated") }
            var dstSize = size - produced
            var srcSize = blockLength(src, at: inPos, blockChecksum: blockChecksum)
            hint = LZ4F_decompress(dctx, dst.baseAddress.map { $0 + produced }, &dstSize, src.baseAddress! + inPos, &srcSize, &opts)
            if LZ4F_isError(hint) != 0 {
                throw .lz4("decoding failed after \(produced) of \(size) bytes: \(String(cString: LZ4F_getErrorName(hint)))")
            }
            produced += dstSize
            inPos += srcSize
            hasher.advance(to: produced)
            if !inspected, let inspect { inspected = try inspect.runIfReady(dst, produced: produced) }
            if srcSize == 0 && dstSize == 0 && hint != 0 { throw .lz4("the decoder made no progress after \(produced) bytes") }
        }
        guard produced == size else { throw .lz4("the frame decoded to \(produced) bytes but declares \(size)") }
        guard inPos == src.count else { throw .lz4("\(src.count - inPos) bytes follow the end of the frame") }
        let recorded = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: src.count - 4, as: UInt32.self))
        let computed = hasher.finish()
        guard computed == recorded else {
            throw .lz4("content checksum mismatch: the frame records XXH32 \(String(recorded, radix: 16)), the content hashes to \(String(computed, radix: 16))")
        }
    }

    /// `decompress` of an array into an array (tests and small inputs).
    public static func decompress(_ frame: [UInt8], limit: Int = .max, checksumThread: Bool? = nil) throws(SnapshotError) -> [UInt8] {
        try frame.withUnsafeBytes { src in
            Result { () throws(SnapshotError) -> [UInt8] in try decompress(src, limit: limit, checksumThread: checksumThread).array }
        }.get()
    }
}
