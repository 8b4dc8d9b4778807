#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseIPC
import MuseScoring
import MuseServer

// muse-bench-serving: what the daemon's per-event scoring path costs on top
// of the model itself, in one process (no transport): the built-in
// generation's 16-feature logistic regression called directly, through the
// RoutingTable, and through the Serving object the workers use, and that
// plus recording the level-1 score into the live score sketch; then the
// worker's batch path as mused runs it: a muse.h client in this thread
// submits 64 events, a ChannelEndpoint drains them with the worker's scorer
// (`WorkerScorer`: runs of one intent through the models' batch path), the
// client polls the 64 answers; without sketches, with them, and with one
// shadow predictor as well (per event, the client's share included).
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
// The level-1 scores of the 1,024 rows, for timing the sketch's record alone.
let rawScores: [Double] = flat.withUnsafeBufferPointer { all in
    (0..<1024).map { serving.score(tenant: TenantIndex(0), intent: IntentID(1), features: row(all, $0)).rawScore }
}
let sketchPredictor = flat.withUnsafeBufferPointer { all in
    serving.score(tenant: TenantIndex(0), intent: IntentID(1), features: row(all, 0)).predictor.index }
var recordAlone = Double.infinity
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
            sketchTable.record(tenant: 0, predictor: verdict.predictor.index, raw: verdict.rawScore,
                               score: verdict.score)
            return verdict.score
        }
    }
    let recorded = rawScores.withUnsafeBufferPointer { raw in
        nanosecondsPerCall(iterations) { i in
            let score = raw[i & 1023]
            sketchTable.record(tenant: 0, predictor: sketchPredictor, raw: score, score: score)
            return score
        }
    }
    recordAlone = min(recordAlone, recorded.0)
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
print(String(format: "live score sketch, record alone (a loop over stored scores, least of 3 rounds): %.1f ns/event", recordAlone))

// MARK: The worker's batch path, through a real channel

/// Nanoseconds per event of `rounds` rounds of `batch` events: the client
/// submits them (rows from `rows`, `width` features each), the drain answers
/// them with `scorer`, the client polls them.
func drainLoop<S: EventScorer>(_ scorer: S, segment: Segment, channel: UnsafeMutablePointer<muse_channel>,
                               rows: UnsafeBufferPointer<Double>, width: Int, intent: UInt32, batch: Int, rounds: Int) -> Double {
    var endpoint = ChannelEndpoint(segment: segment, channel: ChannelIndex(Int(channel.pointee.index)), tenant: TenantIndex(0))
    let scratch = DrainScratch(events: batch, maxFeatures: width)
    defer { scratch.deallocate() }
    var done = [muse_completion](repeating: muse_completion(), count: batch)
    let events = rows.count / width
    var sink = 0.0, tag: UInt64 = 0
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<rounds {
        for _ in 0..<batch {
            let row = rows.baseAddress! + Int(tag % UInt64(events)) * width
            _ = muse_submit(channel, tag, intent, row, UInt32(width))
            tag &+= 1
        }
        _ = endpoint.drain(limit: batch, scorer: scorer, scratch: scratch)
        let n = done.withUnsafeMutableBufferPointer { muse_poll(channel, $0.baseAddress!, batch) }
        sink += done[Int(n) - 1].score
    }
    let end = DispatchTime.now().uptimeNanoseconds
    if sink.isNaN { print("(a score was NaN)") }
    return Double(end - start) / Double(rounds * batch)
}

/// The built-in generation's 16-feature intent with one more predictor in
/// shadow: the same logistic regression with other weights, no map.
func shadowedGeneration(tenant: String) throws -> Generation {
    let intent = Generation.builtInIntents[0]
    var builder = RoutingTableBuilder()
    try builder.addModel("primary", LogisticModel(featureNames: intent.featureNames,
                                                  coefficients: Array(repeating: 1, count: 16), intercept: 0))
    try builder.addModel("shadow", LogisticModel(featureNames: intent.featureNames,
                                                 coefficients: (0..<16).map { Double($0 % 3) - 0.5 }, intercept: -1))
    try builder.addPredictor("primary", members: [(model: "primary", weight: 1)])
    try builder.addPredictor("shadow", members: [(model: "shadow", weight: 1)])
    try builder.route(tenant: tenant, intent: intent.name, to: "primary", shadows: ["shadow"])
    return try Generation(id: GenerationID(2), routing: builder.build(), intents: [intent], origin: "muse-bench-serving")
}

var template = Array("/tmp/muse-bench-serving-XXXXXX".utf8CString)
let benchDir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
defer { try? FileManager.default.removeItem(atPath: benchDir) }
let batchSize = 64
let segment = try Segment.create(path: "\(benchDir)/t.muse", tenant: "t", groupID: nil,
                                 layout: try SegmentLayout(channelCount: 1, ringDepth: batchSize, maxFeatures: 16))
try segment.publishIntents(Generation.builtInIntents)
var client = muse_client()
guard muse_open(&client, "\(benchDir)/t.muse") == MUSE_OK else { fatalError("muse_open") }
var channel = muse_channel()
guard muse_claim(&client, &channel) == MUSE_OK else { fatalError("muse_claim") }
let shadowed = Serving(generation: try shadowedGeneration(tenant: "t"), tenants: ["t"])
let rounds = max(iterations / batchSize / 2, 1)
// The variants interleaved, seven rounds; each one's least figure (the
// machine is shared: a round another process slowed says nothing).
var batchResults: [(String, Double)] = [("drain", .infinity), ("drain+sketch", .infinity), ("drain+sketch+shadow", .infinity)]
for _ in 0..<7 {
    let plain = flat.withUnsafeBufferPointer {
        drainLoop(WorkerScorer(serving: serving, sketches: nil), segment: segment, channel: &channel, rows: $0, width: 16,
                  intent: 1, batch: batchSize, rounds: rounds)
    }
    let sketched = flat.withUnsafeBufferPointer {
        drainLoop(WorkerScorer(serving: serving, sketches: WorkerSketches()), segment: segment, channel: &channel, rows: $0,
                  width: 16, intent: 1, batch: batchSize, rounds: rounds)
    }
    let shadow = flat.withUnsafeBufferPointer {
        drainLoop(WorkerScorer(serving: shadowed, sketches: WorkerSketches()), segment: segment, channel: &channel, rows: $0,
                  width: 16, intent: 1, batch: batchSize, rounds: rounds)
    }
    for (i, ns) in [plain, sketched, shadow].enumerated() { batchResults[i].1 = min(batchResults[i].1, ns) }
}
muse_release(&channel)
muse_close(&client)
print("worker batch path: submit \(batchSize), drain, poll \(batchSize), \(rounds * batchSize) events, least of 7 interleaved rounds")
for (name, ns) in batchResults {
    print(name.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: " %7.1f ns/event", ns))
}
print(String(format: "live score sketch on the batch path: %.1f ns/event", batchResults[1].1 - batchResults[0].1))
print(String(format: "one shadow predictor on the batch path: %.1f ns/event", batchResults[2].1 - batchResults[1].1))
