import Glibc
import MuseCore

/// Bytes of a file or a decoded container: an anonymous mapping of its own,
/// 2 MiB-aligned and marked for transparent huge pages.
///
/// A fresh buffer of hundreds of megabytes costs a page fault (and the
/// kernel zeroing a page) per 4 KiB the first time it is written; measured
/// on a snapshot load that was most of the decode time. With huge pages it
/// is one fault per 2 MiB. Nothing else in a load touches so many fresh
/// pages, so only these buffers get this treatment.
public final class LargeBuffer: @unchecked Sendable {
    public let count: Int
    private let mapping: UnsafeMutableRawPointer?
    private let mappingSize: Int
    /// Start of the bytes: 2 MiB-aligned inside the mapping.
    public let baseAddress: UnsafeMutableRawPointer?

    static let hugePage = 2 << 20

    /// Uninitialized (in practice zero) bytes; `count` may be 0.
    public init(count: Int) throws(SystemCallError) {
        self.count = count
        guard count > 0 else {
            mapping = nil
            mappingSize = 0
            baseAddress = nil
            return
        }
        let huge = count >= Self.hugePage
        let size = huge ? (count + Self.hugePage - 1) / Self.hugePage * Self.hugePage + Self.hugePage : count
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            throw SystemCallError("mmap \(size) bytes", .current)
        }
        mapping = p
        mappingSize = size
        if huge {
            let aligned = (Int(bitPattern: p) + Self.hugePage - 1) / Self.hugePage * Self.hugePage
            baseAddress = UnsafeMutableRawPointer(bitPattern: aligned)
            // Advice only: where THP is off this changes nothing.
            _ = madvise(baseAddress, size - (aligned - Int(bitPattern: p)), MADV_HUGEPAGE)
        } else {
            baseAddress = p
        }
    }

    deinit { if let mapping { munmap(mapping, mappingSize) } }

    /// Valid only while the buffer is alive: hold the buffer (or use
    /// `withExtendedLifetime`) for as long as the pointer is used.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: count) }
    public var mutableBytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: baseAddress, count: count) }

    /// A copy as an array (tests, small files).
    public var array: [UInt8] { Array(bytes) }
}
