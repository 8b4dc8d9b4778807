/// Log-linear latency buckets in the manner of HdrHistogram: each power of two
/// is split into 128 linear sub-buckets, so any recorded value is reported
/// within 1/128 (< 0.8%) of itself, at constant cost per record.
struct LatencyHistogram {
    private static let subBucketBits = 7
    private static let subBuckets = 1 << subBucketBits
    private var counts = [UInt64](repeating: 0, count: 64 * LatencyHistogram.subBuckets)
    private(set) var total: UInt64 = 0
    private(set) var max: UInt64 = 0

    @inline(__always)
    mutating func record(_ value: UInt64) {
        counts[Self.index(value)] &+= 1
        total &+= 1
        if value > max { max = value }
    }

    @inline(__always)
    private static func index(_ value: UInt64) -> Int {
        if value < UInt64(subBuckets) { return Int(value) }
        let magnitude = 63 - value.leadingZeroBitCount          // >= subBucketBits
        let shift = magnitude - subBucketBits
        let sub = Int(value >> UInt64(shift)) & (subBuckets - 1)
        return (shift + 1) * subBuckets + sub
    }

    /// Adds `other`'s records to these.
    mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        total &+= other.total
        if other.max > max { max = other.max }
    }

    /// The highest value that lands in bucket `i`.
    private static func value(atIndex i: Int) -> UInt64 {
        if i < subBuckets { return UInt64(i) }
        let shift = i / subBuckets - 1
        let sub = UInt64(i % subBuckets) | UInt64(subBuckets)
        return ((sub + 1) << UInt64(shift)) - 1
    }

    /// The value at or below which `fraction` of the records fall.
    func percentile(_ fraction: Double) -> UInt64 {
        let rank = UInt64((fraction * Double(total)).rounded(.up))
        var seen: UInt64 = 0
        for (i, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return Swift.min(Self.value(atIndex: i), max) }
        }
        return max
    }

    /// The nonzero buckets as "index:count" words, for a child process to
    /// hand its histogram to the parent.
    func encoded() -> String {
        counts.enumerated().filter { $0.element > 0 }.map { "\($0.offset):\($0.element)" }.joined(separator: " ")
            + " max:\(max)"
    }

    /// Adds what `encoded()` wrote.
    mutating func merge(encoded text: Substring) {
        for word in text.split(separator: " ") {
            let parts = word.split(separator: ":")
            guard parts.count == 2, let count = UInt64(parts[1]) else { continue }
            if parts[0] == "max" {
                if count > max { max = count }
            } else if let i = Int(parts[0]), counts.indices.contains(i) {
                counts[i] &+= count
                total &+= count
            }
        }
    }

    /// "p50 … p99.9 … max" in microseconds.
    func summary() -> String {
        func us(_ ns: UInt64) -> String { String(format: "%.2f", Double(ns) / 1000) }
        return "n=\(total) p50=\(us(percentile(0.5)))us p90=\(us(percentile(0.9)))us p99=\(us(percentile(0.99)))us "
            + "p99.9=\(us(percentile(0.999)))us p99.99=\(us(percentile(0.9999)))us max=\(us(max))us"
    }
}
