import Foundation
import Glibc
import MuseSnapshot

struct Options {
    var args: [String]
    init(_ args: ArraySlice<String>) { self.args = Array(args) }
    func string(_ name: String, _ fallback: String) -> String {
        guard let i = args.firstIndex(of: name), i + 1 < args.count else { return fallback }
        return args[i + 1]
    }
    func int(_ name: String, _ fallback: Int) -> Int { Int(string(name, String(fallback))) ?? fallback }
}

func time(_ body: () throws -> Void) throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    return seconds(clock.now - start)
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

/// The times of `n` runs, each after `before` (untimed).
struct Timings {
    var times: [Double]
    var median: Double { times.sorted()[times.count / 2] }
    var min: Double { times.min()! }
}

func measure(_ n: Int, before: () -> Void = {}, _ body: () throws -> Void) throws -> Timings {
    var times = [Double]()
    for _ in 0..<n {
        before()
        times.append(try time(body))
    }
    return Timings(times: times)
}

func fmt(_ x: Double) -> String { String(format: "%.2f", x) }
func mb(_ n: Int) -> String { String(format: "%.1f MB", Double(n) / 1e6) }
func ms(_ d: Duration) -> String { String(format: "%.1f ms", seconds(d) * 1e3) }

struct Row {
    var what: String
    var timings: Timings
    /// Bytes the throughput is computed over.
    var bytes: Int
    static let header = "step".padding(toLength: 58, withPad: " ", startingAt: 0) + "  median ms    min ms   MB/s (min)"
    var line: String {
        what.padding(toLength: 58, withPad: " ", startingAt: 0)
            + String(format: "%10.1f %9.1f %8.0f", timings.median * 1e3, timings.min * 1e3, Double(bytes) / timings.min / 1e6)
    }
}

/// Maps the file and touches one byte per page: the cost of getting its
/// bytes into memory through page faults instead of reads.
func mmapTouch(_ path: String) throws -> UInt64 {
    try withMapped(path) { bytes in
        var sum: UInt64 = 0
        var i = 0
        while i < bytes.count { sum &+= UInt64(bytes[i]); i += 4096 }
        return sum
    }
}

/// Maps the file and runs `body` on its bytes (e.g. to decode straight
/// from the mapping, mmap's alternative to reading into a buffer).
func withMapped<R>(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    let fd = try FileDescriptor.open(path)
    defer { fd.close() }
    let size = try fd.regularFileSize()
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd.rawValue, 0), p != MAP_FAILED else {
        throw SystemCallError("mmap", .current)
    }
    defer { munmap(p, size) }
    madvise(p, size, MADV_SEQUENTIAL)
    return try body(UnsafeRawBufferPointer(start: p, count: size))
}

/// Empties the page cache before a cold run, where the kernel lets us.
struct CacheDropper {
    let permitted: Bool
    let reason: String

    init() {
        let fd = Glibc.open("/proc/sys/vm/drop_caches", O_WRONLY)
        if fd < 0 {
            permitted = false
            reason = "open: \(Errno.current)"
        } else {
            Glibc.close(fd)
            permitted = true
            reason = ""
        }
    }

    func drop(_ path: String) {
        sync()
        let fd = Glibc.open("/proc/sys/vm/drop_caches", O_WRONLY)
        guard fd >= 0 else { return }
        _ = "3\n".withCString { Glibc.write(fd, $0, 2) }
        Glibc.close(fd)
    }
}

/// `lz4 -b` (the reference tool's in-memory benchmark) on a file; its
/// decompression speed, in MB/s of decoded bytes (MB = 10^6).
struct LZ4Bench {
    var line: String
    var decodeMBps: Double?

    static func run(_ path: String) -> LZ4Bench {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["lz4", "-b1", "-i3", path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return LZ4Bench(line: "could not run lz4: \(error)", decodeMBps: nil) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        // Progress lines end in \r; the last segment holds the final figures,
        // e.g. " 1#bench.container :  300000 ->  150000 (2.000), 700.0 MB/s , 4000.0 MB/s".
        let text = String(decoding: data, as: UTF8.self)
        let last = text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).last { $0.contains("MB/s") }.map(String.init) ?? text
        let speeds = last.components(separatedBy: "MB/s").dropLast().compactMap { part in
            part.split(whereSeparator: { $0 == " " || $0 == "," }).last.flatMap { Double($0) }
        }
        return LZ4Bench(line: last.trimmingCharacters(in: .whitespaces), decodeMBps: speeds.count >= 2 ? speeds[1] : nil)
    }
}

/// The 1-, 5- and 15-minute load averages, to say how busy the machine was.
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}
