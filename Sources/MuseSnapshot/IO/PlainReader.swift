/// The fallback reader: `pread` in large chunks until the file is in.
public enum PlainReader {
    static let chunk = 8 << 20

    public static func read(_ fd: FileDescriptor, size: Int) throws -> LargeBuffer {
        try readIntoNewBuffer(size: size) { buffer in
            var done = 0
            while done < size {
                let want = min(chunk, size - done)
                let n = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + want]), at: done)
                guard n > 0 else { throw ShortFile(expected: size, got: done) }
                done += n
            }
        }
    }
}

/// The file ended before the size `fstat` gave (it changed under us).
public struct ShortFile: Error, CustomStringConvertible {
    public let expected: Int
    public let got: Int
    public var description: String { "the file ended after \(got) of its \(expected) bytes (was it changed while being read?)" }
}
