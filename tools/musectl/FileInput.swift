#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole file, or says which file and why not in the system's own
/// words (`maps.txt: cannot read: No such file or directory`). Foundation's
/// errors name neither the path nor errno ("The file doesn't exist"), which
/// leaves an operator guessing which of several files is meant.
func readFile(_ path: String) throws(FileInputError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileInputError(path: path, errno: errno) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileInputError(path: path, errno: errno)  // EISDIR for a directory
        }
        if n == 0 { return bytes }
        bytes.append(contentsOf: chunk[0..<n])
    }
}

/// Text of a file; bytes that are not UTF-8 become U+FFFD, and the parser
/// then reports the line they are on.
func readTextFile(_ path: String) throws(FileInputError) -> String {
    String(decoding: try readFile(path), as: UTF8.self)
}

/// A file that could not be read, reported as `PATH: cannot read: REASON`.
struct FileInputError: Error, CustomStringConvertible {
    let path: String
    let errno: Int32
    var description: String { "\(path): cannot read: \(String(cString: strerror(errno)))" }
}
