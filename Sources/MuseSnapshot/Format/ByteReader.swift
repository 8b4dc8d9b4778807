/// Reads the fields `ByteWriter` wrote, from bytes that may be hostile:
/// every read checks the bytes left first, and every count is checked
/// against what its elements would need before anything is allocated, so
/// a bad length is an error naming the section and field, never a crash or
/// a huge allocation.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    /// The section being read, for error messages.
    let section: String
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer, section: String) {
        self.bytes = bytes
        self.section = section
    }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset == bytes.count }

    func fail(_ reason: String) -> SnapshotError {
        .malformedSection(section, "at byte \(offset): \(reason)")
    }

    mutating func take(_ n: Int, _ what: String) throws(SnapshotError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw fail("\(what) needs \(n) bytes but only \(remaining) are left") }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }

    mutating func u8(_ what: String) throws(SnapshotError) -> UInt8 { try take(1, what)[0] }
    mutating func u32(_ what: String) throws(SnapshotError) -> UInt32 {
        UInt32(littleEndian: try take(4, what).loadUnaligned(as: UInt32.self))
    }
    mutating func i32(_ what: String) throws(SnapshotError) -> Int32 { Int32(bitPattern: try u32(what)) }
    mutating func u64(_ what: String) throws(SnapshotError) -> UInt64 {
        UInt64(littleEndian: try take(8, what).loadUnaligned(as: UInt64.self))
    }
    mutating func f64(_ what: String) throws(SnapshotError) -> Double { Double(bitPattern: try u64(what)) }

    /// A UInt32 count of elements each at least `minimumSize` bytes long,
    /// refused when the bytes left could not hold them.
    mutating func count(_ what: String, minimumSize: Int) throws(SnapshotError) -> Int {
        let n = Int(try u32("\(what) count"))
        guard n <= remaining / max(minimumSize, 1) else {
            throw fail("\(what) count \(n) is more than the \(remaining) bytes left can hold")
        }
        return n
    }

    mutating func string(_ what: String) throws(SnapshotError) -> String {
        let n = try count(what, minimumSize: 1)
        let raw = try take(n, what)
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("\(what) is not valid UTF-8") }
        return s
    }

    mutating func strings(_ what: String) throws(SnapshotError) -> [String] {
        let n = try count(what, minimumSize: 4)
        var out = [String]()
        out.reserveCapacity(n)
        for i in 0..<n { out.append(try string("\(what)[\(i)]")) }
        return out
    }

    mutating func blob(_ what: String) throws(SnapshotError) -> [UInt8] {
        let n = try u64("\(what) length")
        guard n <= UInt64(remaining) else { throw fail("\(what) length \(n) is more than the \(remaining) bytes left") }
        return Array(try take(Int(n), what))
    }

    mutating func align(_ alignment: Int) throws(SnapshotError) {
        let pad = (alignment - offset % alignment) % alignment
        _ = try take(pad, "padding")
    }

    /// `n` plain values copied straight out of the bytes (little-endian).
    mutating func raw<T: BitwiseCopyable>(_ type: T.Type, count n: Int, _ what: String) throws(SnapshotError) -> [T] {
        let stride = MemoryLayout<T>.stride
        guard n >= 0, n <= remaining / stride else {
            throw fail("\(what): \(n) values of \(stride) bytes is more than the \(remaining) bytes left")
        }
        let src = try take(n * stride, what)
        // Not through unsafeUninitializedCapacity for 0: it stores the count
        // into the shared empty-array singleton, which ThreadSanitizer reports
        // as a race with every thread reading any empty array.
        if n == 0 { return [] }
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: src)
            initialized = n
        }
    }
}
