#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseIPC
import MuseScoring
import MuseServer

// muse-bench-serving: what the daemon's per-event scoring path costs on top
// of the model itself, in one process (no transport): the built-in
// generation's 16-feature logistic regression called directly, through the
// RoutingTable, and through the Serving object the workers use, and that
// plus recording the level-1 score into the live score sketch.
//
//   swift build -c release --product muse-bench-serving && .build/release/muse-bench-serving

/// The `i`th row's 16 features.
@inline(__always)
func row(_ all: UnsafeBufferPointer<Double>, _ i: Int) -> UnsafeBufferPointer<Double> {
    let start: Int = (i & 1023) &* 16
    return UnsafeBufferPointer(rebasing: all[start..<(start + 16)])
}

func nanosecondsPerCall(_ iterations: Int, _ body: (Int) -> Double) -> (Double, Double) {
    var sink = 0.0
    let start = DispatchTime.now().uptimeNanoseconds
    for i in 0..<iterations { sink += body(i) }
    let end = DispatchTime.now().uptimeNanoseconds
    return (Double(end - start) / Double(iterations), sink)
}

let generation = try Generation.builtIn(tenants: ["t"])
let serving = Serving(generation: generation, tenants: ["t"])
let model = try LogisticModel(featureNames: (0..<16).map { "f\($0)" }, coefficients: Array(repeating: 1, count: 16), intercept: 0)
var flat: [Double] = []
for r in 0..<1024 {
    for f in 0..<16 {
        let k: Int = (r &* 31 &+ f &* 7) % 97
        flat.append(Double(k) / 97 - 0.5)
    }
}
// The live score sketch a worker records each answer's level-1 score into.
let sketchTable = WorkerSketches().table(for: serving)
let iterations = Int(ProcessInfo.processInfo.environment["MUSE_BENCH_CALLS"] ?? "") ?? 5_000_000
var results: [(String, Double)] = []
for round in 0..<3 {
    let direct = flat.withUnsafeBufferPointer { all in
        nanosecondsPerCall(iterations) { i in
            model.probability(row(all, i))
        }
    }
    let routed = flat.withUnsafeBufferPointer { all in
        nanosecondsPerCall(iterations) { i in
            let x = row(all, i)
            if case .scored(let s) = generation.routing.score(tenant: 0, intent: 0, features: x) { return s.score }
            return 0
        }
    }
    let served = flat.withUnsafeBufferPointer { all in
        nanosecondsPerCall(iterations) { i in
            let x = row(all, i)
            return serving.score(tenant: TenantIndex(0), intent: IntentID(1), features: x).score
        }
    }
    let sketched = flat.withUnsafeBufferPointer { all in
        nanosecondsPerCall(iterations) { i in
            let x = row(all, i)
            let verdict = serving.score(tenant: TenantIndex(0), intent: IntentID(1), features: x)
            sketchTable.record(tenant: 0, predictor: Int(verdict.predictor.rawValue) &- 1, raw: verdict.rawScore,
                               score: verdict.score)
            return verdict.score
        }
    }
    if round == 2 {
        results = [("model.probability", direct.0), ("RoutingTable.score", routed.0), ("Serving.score", served.0),
                   ("Serving.score+sketch", sketched.0)]
    }
}
print("muse-bench-serving: 16-feature logistic regression, \(iterations) calls, third of three rounds")
for (name, ns) in results {
    let padded = name.padding(toLength: 20, withPad: " ", startingAt: 0)
    print(padded + String(format: " %7.1f ns/event", ns))
}
let overhead: Double = results[2].1 - results[0].1
print(String(format: "overhead of the serving path over the model: %.1f ns", overhead))
print(String(format: "live score sketch (record the level-1 score): %.1f ns/event", results[3].1 - results[2].1))
