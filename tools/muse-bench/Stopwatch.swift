#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation

/// CPU time (user + system) a process has used, in nanoseconds, from /proc.
func cpuTimeNanoseconds(pid: Int32) -> UInt64? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    // Fields after "(comm)": state is field 3; utime and stime are 14 and 15.
    let rest = stat[stat.index(after: close)...].split(separator: " ")
    guard rest.count > 13, let user = UInt64(rest[11]), let system = UInt64(rest[12]) else { return nil }
    let ticks = UInt64(sysconf(Int32(_SC_CLK_TCK)))
    return (user + system) * 1_000_000_000 / ticks
}

/// A child process pinned to one CPU (or a taskset list such as "0-1") with taskset.
final class PinnedProcess {
    let process = Process()

    convenience init(cpu: Int, _ executable: String, _ arguments: [String], quiet: Bool = true) throws {
        try self.init(cpus: String(cpu), executable, arguments, quiet: quiet)
    }

    init(cpus: String, _ executable: String, _ arguments: [String], quiet: Bool = true) throws {
        process.executableURL = URL(filePath: "/usr/bin/taskset")
        process.arguments = ["-c", cpus, executable] + arguments
        if quiet { process.standardOutput = FileHandle.nullDevice }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func stop() {
        kill(pid, SIGTERM)
        process.waitUntilExit()
    }
}

func waitForFile(_ path: String, seconds: Double = 10) {
    let deadline = muse__now_ns() + UInt64(seconds * 1e9)
    while access(path, F_OK) != 0 && muse__now_ns() < deadline { usleep(10_000) }
}
