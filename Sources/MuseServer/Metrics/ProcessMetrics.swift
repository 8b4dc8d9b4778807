#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The standard `process_*` figures of Prometheus clients, read from
/// /proc/self at each scrape (on the scraping thread).
///
/// Only files under /proc/self are read: mused.service's `ProcSubset=pid`
/// hides /proc/stat, so the boot time the start time counts from is taken
/// from the clocks (CLOCK_REALTIME minus CLOCK_BOOTTIME, the clock
/// /proc/self/stat's start time is on).
struct ProcessMetrics: Equatable {
    /// User plus system CPU time.
    var cpuSeconds: Double
    var residentBytes: Double
    var virtualBytes: Double
    /// Unix time the process started.
    var startTimeSeconds: Double
    var openFileDescriptors: Double?
    var maxFileDescriptors: Double?

    /// The figures of /proc/self/stat's `text`, or nil if it is not such a
    /// line. `ticksPerSecond` is sysconf(_SC_CLK_TCK), `pageSize` the page
    /// size; `bootTime` the Unix time of boot.
    static func parse(stat text: String, ticksPerSecond: Double, pageSize: Double, bootTime: Double) -> ProcessMetrics? {
        // The command name (field 2) is in parentheses and may hold spaces
        // and parentheses itself: fields are counted after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state): field n is fields[n - 3].
        func field(_ n: Int) -> Double? { fields.count > n - 3 ? Double(fields[n - 3]) : nil }
        guard ticksPerSecond > 0, let user = field(14), let system = field(15), let start = field(22),
              let virtual = field(23), let resident = field(24)
        else { return nil }
        return ProcessMetrics(cpuSeconds: (user + system) / ticksPerSecond, residentBytes: resident * pageSize,
                              virtualBytes: virtual, startTimeSeconds: bootTime + start / ticksPerSecond)
    }

    /// This process's figures now; nil if /proc/self/stat cannot be read.
    static func current() -> ProcessMetrics? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        var metrics = parse(stat: stat, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                            pageSize: Double(sysconf(Int32(_SC_PAGESIZE))), bootTime: bootTime())
        metrics?.openFileDescriptors = openFileDescriptors()
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 { metrics?.maxFileDescriptors = Double(limit.rlim_cur) }
        return metrics
    }

    /// The Unix time of boot, as CLOCK_REALTIME minus CLOCK_BOOTTIME.
    static func bootTime() -> Double {
        var real = timespec(), boot = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        return Double(real.tv_sec - boot.tv_sec) + Double(real.tv_nsec - boot.tv_nsec) / 1e9
    }

    /// Entries of /proc/self/fd, less the descriptor reading it holds.
    private static func openFileDescriptors() -> Double? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += 1 }
        }
        return Double(max(0, count - 1))
    }
}
