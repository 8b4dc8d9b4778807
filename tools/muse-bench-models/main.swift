import Foundation
import MuseScoring

// Times Muse on a model file and a CSV of rows; prints one JSON object.
// Usage: muse-bench-models MODEL ROWS.csv [single-event-samples]
// tools/bench/models.sh runs it beside the Python-side scorers.

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: muse-bench-models MODEL ROWS.csv [samples]\n".utf8))
    exit(2)
}
let modelBytes = Array(FileManager.default.contents(atPath: args[1])!)
let samples = args.count > 3 ? Int(args[3])! : 200_000

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
    model = try ModelImporter.load(modelBytes)
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

// Batch: all rows at once, repeated; rows per second on one thread.
var out = [Double](repeating: 0, count: n)
var best = Double.infinity
for _ in 0..<5 {
    let t0 = now()
    try rows.values.withUnsafeBufferPointer { v in
        try out.withUnsafeMutableBufferPointer { o in
            if let trees = model as? TreeEnsemble { try trees.probabilities(rows: v, into: o) } else { try model.margins(rows: v, into: o) }
        }
    }
    best = min(best, Double(now() - t0))
    checksum += out[0]
}

var memory = 0
var trees = 0
if let t = model as? TreeEnsemble { memory = t.memoryFootprint; trees = t.treeCount }
let result: [String: Any] = [
    "scorer": "muse",
    "single_median_ns": percentile(lat, 0.5),
    "single_p99_ns": percentile(lat, 0.99),
    "clock_overhead_ns": percentile(clockCost, 0.5),
    "batch_rows_per_s": Double(n) / (best / 1e9),
    "batch_ns_per_row": best / Double(n),
    "load_ms": percentile(loads, 0.5) / 1e6,
    "model_bytes": memory,
    "trees": trees,
    "rows": n,
    "checksum": checksum,
]
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
