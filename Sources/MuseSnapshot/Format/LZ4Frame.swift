import CLZ4

/// The LZ4 frame format (what the `lz4` tool reads and writes), through
/// liblz4. Snapshots are one frame with the content checksum on and the
/// content size recorded, so `lz4 -d` opens them and the decoder knows the
/// size to allocate before it starts.
public enum LZ4Frame {
    /// Compresses `bytes` into one frame: 4 MiB linked blocks, content size
    /// and content checksum (XXH32 of the decoded bytes) in the frame.
    public static func compress(_ bytes: [UInt8], level: Int32 = 0) throws(SnapshotError) -> [UInt8] {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.blockSizeID = LZ4F_max4MB
        prefs.frameInfo.blockMode = LZ4F_blockLinked
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

    /// What a frame's header says about its content.
    public struct Info: Sendable {
        public let contentSize: UInt64?
        public let hasContentChecksum: Bool
    }

    /// Decodes one frame into a buffer of its declared size. `limit` caps
    /// that size, and it must be plausible for the input (LZ4 cannot expand
    /// a byte more than 255-fold), so a hostile header cannot make the
    /// decoder allocate more than the file could hold.
    public static func decompress(_ frame: [UInt8], limit: Int = .max) throws(SnapshotError) -> [UInt8] {
        try frame.withUnsafeBytes { src in
            Result { () throws(SnapshotError) -> [UInt8] in try decompress(src, limit: limit) }
        }.get()
    }

    public static func decompress(_ src: UnsafeRawBufferPointer, limit: Int = .max) throws(SnapshotError) -> [UInt8] {
        var dctx: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&dctx, UInt32(LZ4F_VERSION))) == 0, let dctx else {
            throw .lz4("cannot create a decompression context")
        }
        defer { LZ4F_freeDecompressionContext(dctx) }
        do {
            guard src.count >= 7, src.load(as: UInt32.self) == UInt32(0x184D2204).littleEndian else {
                throw .lz4("not an LZ4 frame (no LZ4 frame magic at the start of the file)")
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
            guard size <= UInt64(limit) else {
                throw .lz4("the frame declares \(size) bytes of content, over the limit of \(limit)")
            }
            guard size <= UInt64(src.count) * 256 + 65536 else {
                throw .lz4("the frame declares \(size) bytes of content, implausible for \(src.count) compressed bytes (truncated or corrupt)")
            }
            var failure: String?
            var produced = 0
            var trailing = false
            let out = [UInt8](unsafeUninitializedCapacity: Int(size)) { dst, initialized in
                var opts = LZ4F_decompressOptions_t()
                opts.stableDst = 1
                var inPos = consumed
                var hint = h
                while hint != 0 {
                    guard inPos < src.count else { failure = "the frame is truncated"; break }
                    var dstSize = dst.count - produced
                    var srcSize = src.count - inPos
                    hint = LZ4F_decompress(dctx, dst.baseAddress.map { $0 + produced }, &dstSize,
                                           src.baseAddress! + inPos, &srcSize, &opts)
                    if LZ4F_isError(hint) != 0 { failure = String(cString: LZ4F_getErrorName(hint)); break }
                    produced += dstSize
                    inPos += srcSize
                    if srcSize == 0 && dstSize == 0 && hint != 0 { failure = "the decoder made no progress"; break }
                }
                if failure == nil && inPos != src.count { trailing = true }
                // Never expose bytes the decoder did not write.
                if produced < dst.count { dst.baseAddress!.advanced(by: produced).initialize(repeating: 0, count: dst.count - produced) }
                initialized = dst.count
            }
            if let failure { throw .lz4("decoding failed after \(produced) of \(size) bytes: \(failure)") }
            guard produced == Int(size) else { throw .lz4("the frame decoded to \(produced) bytes but declares \(size)") }
            guard !trailing else { throw .lz4("bytes follow the end of the frame") }
            return out
        }
    }
}
