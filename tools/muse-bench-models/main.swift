import Foundation
import MuseScoring

// Times Muse on a model file and a CSV of rows; prints one JSON object.
// Usage: muse-bench-models MODEL ROWS.csv [samples] [--layout walk|bitvector|auto] [--expected MARGINS.csv]
//        [--batch-kernel auto|scalar|portable|avx2|avx512] [--batch-sizes 1,8,64]
//        [--count single|batch:SIZE EVENTS]
// With --layout, a tree ensemble is scored by that layout (auto: the one the
// selection rule picks, the default); with --batch-kernel, its batches by
// those kernels (auto: the best the CPU runs; scalar: one event at a time);
// with --expected (one header line, then the library's margin per row,
// %.17g), every row's margin is compared bit for bit, single and batch, and
// the count of differing rows is reported. --batch-sizes adds the cost per
// row of calls of each size (median over spans of about 1000 rows, each cut
// into calls of that size). --count only loads the model and scores EVENTS
// events, one per call or SIZE per call, inside `museBenchCountedLoop`, then
// exits: for `valgrind --tool=callgrind --toggle-collect='*museBenchCountedLoop*'`,
// whose instruction count divided by EVENTS is the cost of an event.
// tools/bench/models.sh runs it beside the Python-side scorers.

var args = CommandLine.arguments
var layoutName = "auto"
var kernelName = "auto"
var expectedPath: String?
var batchSizes: [Int] = []
var countMode: String?
while let i = args.firstIndex(where: { $0.hasPrefix("--") }), i + 1 < args.count {
    switch args[i] {
    case "--layout": layoutName = args[i + 1]
    case "--batch-kernel": kernelName = args[i + 1]
    case "--expected": expectedPath = args[i + 1]
    case "--batch-sizes": batchSizes = args[i + 1].split(separator: ",").map { Int($0)! }
    case "--count": countMode = args[i + 1]
    default: FileHandle.standardError.write(Data("unknown option \(args[i])\n".utf8)); exit(2)
    }
    args.removeSubrange(i...(i + 1))
}
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: muse-bench-models MODEL ROWS.csv [samples|EVENTS] [--layout walk|bitvector|auto] [--expected MARGINS.csv] [--batch-kernel auto|scalar|portable|avx2|avx512] [--batch-sizes 1,8,64] [--count single|batch:SIZE]\n".utf8))
    exit(2)
}
guard let batchKernel = BitvectorScorer.BatchKernel(rawValue: kernelName) else {
    FileHandle.standardError.write(Data("unknown batch kernel \(kernelName)\n".utf8)); exit(2)
}
let modelBytes = Array(FileManager.default.contents(atPath: args[1])!)
let samples = args.count > 3 ? Int(args[3])! : 200_000
func withLayout(_ m: any ScoringModel, _ layoutName: String) -> any ScoringModel {
    guard let t = m as? TreeEnsemble else { return m }
    let k = t.with(batchKernel: batchKernel)
    guard let l = TreeEnsemble.Layout(rawValue: layoutName) else { return k }
    return k.with(layout: l)
}

/// Scores `events` events from `rows` (cycling), `size` per batch call or
/// one per `probability` call when `size` is 0; returns a checksum.
@inline(never)
func museBenchCountedLoop(_ model: any ScoringModel, _ rows: UnsafeBufferPointer<Double>, width: Int, events: Int,
                          size: Int, out: UnsafeMutableBufferPointer<Double>) -> Double {
    let n = rows.count / width
    var checksum = 0.0
    if size == 0 {
        for i in 0..<events {
            let r = i % n
            checksum += model.probability(UnsafeBufferPointer(rebasing: rows[r * width..<(r + 1) * width]))
        }
        return checksum
    }
    var done = 0, r = 0
    while done < events {
        let k = min(size, events - done)
        if r + k > n { r = 0 }
        let o = UnsafeMutableBufferPointer(rebasing: out[0..<k])
        try! model.margins(rows: UnsafeBufferPointer(rebasing: rows[r * width..<(r + k) * width]), into: o)
        checksum += o[0]
        done += k
        r += k
    }
    return checksum
}

if let countMode {
    let model = withLayout(try ModelImporter.load(modelBytes), layoutName)
    let rows = try FeatureCSV(Array(FileManager.default.contents(atPath: args[2])!), featureNames: model.featureNames)
    let size = countMode == "single" ? 0 : Int(countMode.dropFirst("batch:".count))!
    var out = [Double](repeating: 0, count: max(size, 1))
    let sum = rows.values.withUnsafeBufferPointer { v in
        out.withUnsafeMutableBufferPointer { o in
            museBenchCountedLoop(model, v, width: model.featureNames.count, events: samples, size: size, out: o)
        }
    }
    print("{\"count\": \"\(countMode)\", \"events\": \(samples), \"checksum\": \(sum)}")
    exit(0)
}

@inline(__always) func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

// Load time: median of several full imports from bytes in memory.
var loads: [Double] = []
var model: (any ScoringModel)!
for _ in 0..<7 {
    let t0 = now()
    model = withLayout(try ModelImporter.load(modelBytes), layoutName)
    loads.append(Double(now() - t0))
}
loads.sort()
let rows = try FeatureCSV(Array(FileManager.default.contents(atPath: args[2])!), featureNames: model.featureNames)
let width = model.featureNames.count
let n = rows.rowCount

// Single event: time each call separately (clock overhead ~20 ns included;
// measured separately and reported). Rows cycle so branches are not memorised.
var checksum = 0.0
var clockCost: [Double] = []
for _ in 0..<10_000 { let a = now(); clockCost.append(Double(now() - a)) }
clockCost.sort()
var lat = [Double](repeating: 0, count: samples)
rows.values.withUnsafeBufferPointer { v in
    for i in 0..<min(samples, 20_000) {  // warm-up
        let r = i % n
        checksum += model.probability(UnsafeBufferPointer(rebasing: v[r * width..<(r + 1) * width]))
    }
    for i in 0..<samples {
        let r = (i &* 7919) % n
        let row = UnsafeBufferPointer(rebasing: v[r * width..<(r + 1) * width])
        let t0 = now()
        checksum += model.probability(row)
        lat[i] = Double(now() - t0)
    }
}
lat.sort()

// Batch: calls of 1000 rows, 5 passes over the rows; the median call, per
// row (as tools/bench/bench_models.py times the other scorers: on a shared
// machine a whole-matrix call is often preempted, a 1000-row call seldom).
let chunk = min(1000, n)
var out = [Double](repeating: 0, count: chunk)
var chunkTimes: [Double] = []
for _ in 0..<5 {
    for s in stride(from: 0, through: n - chunk, by: chunk) {
        let t0 = now()
        try rows.values.withUnsafeBufferPointer { v in
            let part = UnsafeBufferPointer(rebasing: v[s * width..<(s + chunk) * width])
            try out.withUnsafeMutableBufferPointer { o in
                if let trees = model as? TreeEnsemble { try trees.probabilities(rows: part, into: o) } else { try model.margins(rows: part, into: o) }
            }
        }
        chunkTimes.append(Double(now() - t0))
        checksum += out[0]
    }
}
chunkTimes.sort()
let best = percentile(chunkTimes, 0.5) / Double(chunk) * Double(n)  // as if all n rows

// Per row at each --batch-sizes size: spans of about 1000 rows, each cut
// into calls of that size, 5 passes; the median span's time per row.
var bySize: [String: Double] = [:]
for size in batchSizes {
    let span = max(size, min(n, 1000) / size * size)
    var spanTimes: [Double] = []
    var o = [Double](repeating: 0, count: size)
    for _ in 0..<5 {
        for s in stride(from: 0, through: n - span, by: span) {
            let t0 = now()
            try rows.values.withUnsafeBufferPointer { v in
                try o.withUnsafeMutableBufferPointer { o in
                    for c in stride(from: s, to: s + span, by: size) {
                        try model.margins(rows: UnsafeBufferPointer(rebasing: v[c * width..<(c + size) * width]), into: o)
                    }
                }
            }
            spanTimes.append(Double(now() - t0))
            checksum += o[0]
        }
    }
    spanTimes.sort()
    bySize[String(size)] = percentile(spanTimes, 0.5) / Double(span)
}

// Exactness against the library's margins, single and batch.
var differing = -1
if let expectedPath {
    let text = String(decoding: FileManager.default.contents(atPath: expectedPath)!, as: UTF8.self)
    let expected = text.split(separator: "\n").dropFirst().map { Double($0)! }
    precondition(expected.count == n, "\(expected.count) expected margins for \(n) rows")
    var margins = [Double](repeating: .nan, count: n)
    try rows.values.withUnsafeBufferPointer { v in try margins.withUnsafeMutableBufferPointer { try model.margins(rows: v, into: $0) } }
    // And in calls of each --batch-sizes size.
    var sized = [[Double]](repeating: [Double](repeating: .nan, count: n), count: batchSizes.count)
    for (j, size) in batchSizes.enumerated() {
        try rows.values.withUnsafeBufferPointer { v in
            try sized[j].withUnsafeMutableBufferPointer { m in
                for c in stride(from: 0, to: n, by: size) {
                    let k = min(size, n - c)
                    try model.margins(rows: UnsafeBufferPointer(rebasing: v[c * width..<(c + k) * width]),
                                      into: UnsafeMutableBufferPointer(rebasing: m[c..<(c + k)]))
                }
            }
        }
    }
    differing = 0
    rows.values.withUnsafeBufferPointer { v in
        for r in 0..<n {
            let single = model.margin(UnsafeBufferPointer(rebasing: v[r * width..<(r + 1) * width]))
            if single.bitPattern != expected[r].bitPattern || margins[r].bitPattern != expected[r].bitPattern
                || sized.contains(where: { $0[r].bitPattern != expected[r].bitPattern }) { differing += 1 }
        }
    }
}

var memory = 0
var trees = 0
var layout = "n/a"
var stats: [String: Int] = [:]
if let t = model as? TreeEnsemble {
    memory = t.memoryFootprint; trees = t.treeCount; layout = t.layout.rawValue
    let s = t.with(layout: .bitvector).bitvector!.statistics
    var applied = (0, 0)
    let b = t.with(layout: .bitvector).bitvector!
    rows.values.withUnsafeBufferPointer { v in
        for r in 0..<min(n, 2000) {
            let a = b.entriesApplied(v.baseAddress! + r * width)
            applied.0 += a.numeric; applied.1 += a.categorical
        }
    }
    stats = ["applied_numeric_per_row": applied.0 / min(n, 2000), "applied_categorical_per_row": applied.1 / min(n, 2000),
             "expected_splits_x100": Int(s.expectedSplits * 100), "expected_slow_splits_x100": Int(s.expectedSlowSplits * 100),
             "false_share_sum": Int(s.falseShareSum), "categorical_apply_estimate": Int(s.categoricalApplyEstimate),
             "estimated_walk_ns": Int(LayoutCostModel.walkCost(s, trees: t.treeCount)), "estimated_bitvector_ns": Int(LayoutCostModel.bitvectorCost(s)),
             "numeric_nodes": s.numericNodes, "distinct_thresholds": s.distinctThresholds, "categorical_nodes": s.categoricalNodes,
             "table_entries": s.tableEntries, "direct_nodes": s.directNodes, "entries": s.entries, "words": s.words,
             "leaves": s.leaves, "leaf_depth_sum": s.splitDepthSum]
}
let result: [String: Any] = [
    "layout": layout,
    "batch_kernel": batchKernel.rawValue,
    "batch_kernel_runs": (model as? TreeEnsemble)?.batchBitvector.map { batchKernel.resolved(for: $0).rawValue } ?? "walk",
    "batch_layout": (model as? TreeEnsemble)?.batchLayout.rawValue ?? "n/a",
    "best_batch_kernel": BitvectorScorer.BatchKernel.available.last!.rawValue,
    "batch_ns_per_row_by_size": bySize,
    "bitvector_stats": stats,
    "rows_differing_from_library": differing,
    "scorer": "muse",
    "single_median_ns": percentile(lat, 0.5),
    "single_p99_ns": percentile(lat, 0.99),
    "clock_overhead_ns": percentile(clockCost, 0.5),
    "batch_rows_per_s": Double(n) / (best / 1e9),
    "batch_ns_per_row": best / Double(n),
    "load_ms": percentile(loads, 0.5) / 1e6,
    "model_bytes": memory,
    "trees": trees,
    "features": width,
    "rows": n,
    "checksum": checksum,
]
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
