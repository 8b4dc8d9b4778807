#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon
import Foundation
import MuseBenchSupport
import MuseClient
import MuseScoring
import MuseSnapshot
import Synchronization

/// End to end through a real mused serving a real generation: a LightGBM
/// model of --trees trees (synthetic, written from a seed by
/// SyntheticLightGBM, so nothing is downloaded) with level 1 (negative
/// sampling 0.1) and a level-2 quantile map per tenant fitted on the model's
/// own scores. Measures, in one run:
///   - the scorer's own single-event cost: the same snapshot loaded in this
///     process, one event at a time through its routing table (model, both
///     maps), no transport;
///   - 1 tenant, 1 worker: round trips with one event in flight, and
///     pipelined throughput;
///   - 8 tenants, 2 workers: the same, the client going round the tenants.
/// and prints the difference between the round trip and the scorer's own cost.
///
///   muse-bench e2e [--trees 500] [--leaves 31] [--features 32] [--events N]
enum EndToEndBenchmark {
    struct Options {
        var trees = 500, leaves = 31, features = 32, events = 300_000
    }

    static let tenants = (0..<8).map { "t\($0)" }
    static let intentName = "card-not-present"

    static func run(_ o: Options, binDirectory: String, cpus: Int) throws {
        Self.binDirectory = binDirectory
        let dir = "/tmp/muse-bench-e2e-\(getpid())"
        mkdir(dir, 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // 1. The generation, and the events (what the maps were fitted on).
        let started = muse__now_ns()
        let (synthetic, events) = model(o)
        let path = "\(dir)/e2e.snapshot"
        try writeSnapshot(synthetic, events: events, to: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        print(String(format: "generation: LightGBM %d trees × %d leaves, %d features, level 1 (negative sampling 0.1) + a level-2 map "
                     + "per tenant (Beta(2,5), 1001 knots); snapshot %d bytes, built in %.1f s",
                     o.trees, o.leaves, o.features, size, Double(muse__now_ns() - started) / 1e9))

        // 2. The scorer's own cost, same snapshot, same events, on the CPU
        // mused's worker gets in the 1-tenant run (measured again at the end:
        // the machine's other load drifts).
        let serverCPU = cpus > 1 ? 1 : 0
        let own = try scorerCost(path: path, events: events, count: max(o.events, 200_000), cpu: serverCPU)
        print("scorer alone (in process on CPU \(serverCPU), model + both maps, one event at a time)  \(own.summary())")
        // What a worker's drain does with a full batch: runs of 64 rows
        // through the routing table's batch path (the models' kernels).
        let batchCost = try scorerBatchCost(path: path, events: events, rows: max(o.events, 200_000), cpu: serverCPU)
        print(String(format: "scorer alone, batches of 64 rows (in process on CPU %d)  %.0f ns per row = %.3f M rows/s",
                     serverCPU, batchCost, 1e3 / batchCost))

        // 3. 1 tenant, 1 worker: mused on its own CPU.
        let serverCPUs = String(serverCPU)
        var oneRoundTrip = LatencyHistogram()
        try withDaemon(dir: dir, snapshot: path, tenants: ["t0"], workers: 1, cpus: serverCPUs) { runtime in
            let channels = try [TenantConnection(runtimeDirectory: runtime, tenant: "t0").claim()]
            oneRoundTrip = roundTrips(channels, events: events, count: o.events)
            print("1 tenant, 1 worker    round trip (1 in flight)  \(oneRoundTrip.summary())")
            let rate = pipelined(channels, events: events, count: o.events * 4)
            print(String(format: "1 tenant, 1 worker    pipelined                 %.3f M events/s (batches of 64, ring depth 1024)", rate / 1e6))
            print(String(format: "1 tenant, 1 worker    pipelined rate × batch cost per row = %.2f (1: the worker does nothing but score; goal ≥ 0.9)",
                         rate * batchCost / 1e9))
        }

        // 4. 8 tenants, 2 workers: mused's workers on every CPU (two here),
        // shared with this client.
        var eightRoundTrip = LatencyHistogram()
        try withDaemon(dir: dir, snapshot: path, tenants: tenants, workers: 2, cpus: "0-\(max(cpus - 1, 0))") { runtime in
            let channels = try tenants.map { try TenantConnection(runtimeDirectory: runtime, tenant: $0).claim() }
            eightRoundTrip = roundTrips(channels, events: events, count: o.events)
            print("8 tenants, 2 workers  round trip (1 in flight)  \(eightRoundTrip.summary())")
            let rate = pipelined(channels, events: events, count: o.events * 4)
            print(String(format: "8 tenants, 2 workers  pipelined                 %.3f M events/s (batches of 64 per tenant, ring depth 1024)", rate / 1e6))
        }

        let ownAfter = try scorerCost(path: path, events: events, count: max(o.events, 200_000), cpu: serverCPU)
        print("scorer alone, again (in process on CPU \(serverCPU))  \(ownAfter.summary())")
        // The same with a thread spinning on CPU 0 as the client does while it
        // waits: whether a spinning neighbour slows the walk itself (vCPUs
        // that share a physical core do).
        let spinning = Atomic<Bool>(true)
        let spinner = Thread {
            _ = muse_pin_thread_to_cpu(0)
            while spinning.load(ordering: .relaxed) { muse__cpu_relax() }
        }
        spinner.start()
        let ownBesideSpinner = try scorerCost(path: path, events: events, count: max(o.events, 200_000), cpu: serverCPU)
        spinning.store(false, ordering: .relaxed)
        while !spinner.isFinished { usleep(1000) }
        print("scorer alone, a thread spinning on CPU 0 (as the client does)  \(ownBesideSpinner.summary())")
        let ownP50 = Double(min(own.percentile(0.5), ownAfter.percentile(0.5))) / 1000
        for (what, h) in [("1 tenant, 1 worker", oneRoundTrip), ("8 tenants, 2 workers", eightRoundTrip)] {
            let p50 = Double(h.percentile(0.5)) / 1000
            print(String(format: "%@: round-trip p50 %.2f µs − scorer p50 (the lower of the two) %.2f µs = %.2f µs of transport (goal: within 1 µs)",
                         what, p50, ownP50, p50 - ownP50))
        }
    }

    /// The benchmark's model and events as files, for `muse-bench-models`
    /// (and callgrind's counts of it): DIR/e2e.lgb.txt and DIR/e2e.rows.csv.
    static func writeModel(_ o: Options, to dir: String) throws {
        let (synthetic, events) = model(o)
        try Data(synthetic.text()).write(to: URL(filePath: "\(dir)/e2e.lgb.txt"))
        var csv = synthetic.featureNames.joined(separator: ",") + "\n"
        for event in events {
            csv += event.map { $0.isNaN ? "" : String($0) }.joined(separator: ",") + "\n"
        }
        try Data(csv.utf8).write(to: URL(filePath: "\(dir)/e2e.rows.csv"))
        print("wrote \(dir)/e2e.lgb.txt and \(dir)/e2e.rows.csv (4096 events)")
    }

    /// The benchmark's model and the events it scores (and its maps are
    /// fitted on), from fixed seeds.
    static func model(_ o: Options) -> (SyntheticLightGBM, [[Double]]) {
        (SyntheticLightGBM(trees: o.trees, leaves: o.leaves, features: o.features, seed: 500),
         events(count: 4096, features: o.features, seed: 7))
    }

    /// Events like the ones a fitted map expects: each feature uniform in
    /// the synthetic model's range, one in ten missing.
    static func events(count: Int, features: Int, seed: UInt64) -> [[Double]] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            (0..<features).map { _ in rng.uniform() < 0.1 ? .nan : rng.uniform() * 8 - 4 }
        }
    }

    static func writeSnapshot(_ synthetic: SyntheticLightGBM, events: [[Double]], to path: String) throws {
        let text = synthetic.text()
        let model = try ModelImporter.load(text)
        if let trees = model as? TreeEnsemble {
            print("model layout: \(trees.layout.rawValue)\(trees.bitvector?.narrow == true ? " (narrow form)" : "")")
        }
        let intent = IntentSchema(name: intentName, id: 1, featureNames: synthetic.featureNames)
        var contents = SnapshotContents(
            generationID: 1, createdAt: 1764000000, metadata: [MetadataEntry("built-by", "muse-bench e2e")],
            models: [ModelEntry(name: "gbdt", model: try SnapshotModel(model), correction: .negativeSamplingRate(0.1),
                                source: ModelSource(format: .lightgbm, bytes: text))],
            scoreMaps: ScoreMapFile(entries: []),
            predictors: [PredictorSpec(name: "cnp", members: [.init(model: "gbdt")])],
            intents: [intent],
            routes: tenants.map { RouteSpec(tenant: $0, intent: intentName, predictor: "cnp") })
        // Level 2 is fitted on level 1's output: the table without maps first.
        let unmapped = try contents.routingTable()
        let posteriors = events.map { event in
            event.withUnsafeBufferPointer { x -> Double in
                guard case .scored(let s) = unmapped.score(tenant: 0, intent: 0, features: x) else { return .nan }
                return s.raw
            }
        }
        let reference = try ReferenceDistribution.beta(2, 5)
        let maps = try TenantMaps.fit(samples: tenants.map { (tenant: $0, scores: posteriors) },
                                      fitter: try QuantileMapFitter(reference: reference), minimumSamples: 1000)
        contents.scoreMaps = ScoreMapFile(predictor: "cnp", reference: reference, maps: maps)
        contents.scoreMaps = try ScoreMapFile.parse(contents.scoreMaps.encoded(), file: "maps")
        contents.canaries = try Canaries.record(
            tenants.flatMap { t in events.prefix(4).map { CanaryEvent(tenant: t, intent: intentName, features: $0) } },
            table: try contents.routingTable())
        try SnapshotWriter.write(contents, to: path)
    }

    /// One event at a time through the loaded snapshot's routing table, each timed.
    static func scorerCost(path: String, events: [[Double]], count: Int, cpu: Int) throws -> LatencyHistogram {
        guard muse_pin_thread_to_cpu(Int32(cpu)) == 0 else { fatalError("cannot pin to CPU \(cpu)") }
        defer { _ = muse_pin_thread_to_cpu(0) }
        let table = try SnapshotLoader(io: .plainRead).load(path).routingTable
        var histogram = LatencyHistogram()
        var sink = 0.0
        for i in 0..<(count + count / 10) {
            let event = events[i % events.count]
            let start = muse__now_ns()
            let outcome = event.withUnsafeBufferPointer { table.score(tenant: 0, intent: 0, features: $0) }
            let end = muse__now_ns()
            if case .scored(let s) = outcome { sink += s.score }
            if i >= count / 10 { histogram.record(end - start) }
        }
        if sink.isNaN { print("(a score was NaN)") }
        return histogram
    }

    /// Nanoseconds per row of scoring `rows` rows in calls of 64 through
    /// the routing table's batch path (model, level 1, level 2): the least
    /// of five passes, the clock read once per pass.
    static func scorerBatchCost(path: String, events: [[Double]], rows: Int, cpu: Int) throws -> Double {
        guard muse_pin_thread_to_cpu(Int32(cpu)) == 0 else { fatalError("cannot pin to CPU \(cpu)") }
        defer { _ = muse_pin_thread_to_cpu(0) }
        let table = try SnapshotLoader(io: .plainRead).load(path).routingTable
        let width = events[0].count, block = 64
        let flat = events.flatMap { $0 }
        let raw = UnsafeMutableBufferPointer<Double>.allocate(capacity: block)
        let scores = UnsafeMutableBufferPointer<Double>.allocate(capacity: block)
        let work = UnsafeMutableBufferPointer<Double>.allocate(capacity: block)
        defer { raw.deallocate(); scores.deallocate(); work.deallocate() }
        var best = Double.infinity, sink = 0.0
        let blocks = max(rows / block / 5, 1)
        for _ in 0..<5 {
            let start = muse__now_ns()
            flat.withUnsafeBufferPointer { all in
                for b in 0..<blocks {
                    let first = (b * block) % (events.count - block + 1)
                    let x = UnsafeBufferPointer(rebasing: all[first * width..<(first + block) * width])
                    _ = table.score(tenant: 0, intent: 0, rows: x, count: block, raw: raw, scores: scores, work: work)
                    sink += scores[block - 1]
                }
            }
            best = min(best, Double(muse__now_ns() - start) / Double(blocks * block))
        }
        if sink.isNaN { print("(a score was NaN)") }
        return best
    }

    static func withDaemon(dir: String, snapshot: String, tenants: [String], workers: Int, cpus: String,
                           _ body: (String) throws -> Void) throws {
        let runtime = "\(dir)/run-\(tenants.count)"
        mkdir(runtime, 0o700)
        let daemon = try PinnedProcess(cpus: cpus, "\(binDirectory)/mused",
                                       ["--runtime-dir", runtime, "--state-dir", runtime + ".state", "--snapshot", snapshot,
                                        "--workers", String(workers)] + tenants.flatMap { ["--tenant", "\($0)::2:1024"] })
        defer { daemon.stop() }
        waitForFile("\(runtime)/control.sock")
        usleep(300_000)
        try body(runtime)
    }

    nonisolated(unsafe) static var binDirectory = ""

    /// One event in flight: submit, spin until its completion is read; the
    /// client goes round the channels (tenants) one event each.
    static func roundTrips(_ channels: [ClientChannel], events: [[Double]], count: Int) -> LatencyHistogram {
        var histogram = LatencyHistogram()
        var completion = muse_completion()
        let warmup = count / 10
        withUnsafeMutablePointer(to: &completion) { out in
            let buffer = UnsafeMutableBufferPointer(start: out, count: 1)
            for i in 0..<(warmup + count) {
                let channel = channels[i % channels.count]
                events[i % events.count].withUnsafeBufferPointer { x in
                    let start = muse__now_ns()
                    while channel.submit(tag: UInt64(i), intent: 1, features: x) != MUSE_OK { muse__cpu_relax() }
                    while channel.poll(into: buffer) == 0 { muse__cpu_relax() }
                    let end = muse__now_ns()
                    precondition(out.pointee.tag == UInt64(i) && out.pointee.status == 0, "status \(out.pointee.status)")
                    if i >= warmup { histogram.record(end - start) }
                }
            }
        }
        return histogram
    }

    /// Batches of 64 on each channel in turn, as many in flight as the rings
    /// hold; returns events per second over all channels.
    static func pipelined(_ channels: [ClientChannel], events: [[Double]], count: Int) -> Double {
        let batch = 64
        let flat = events.flatMap { $0 }
        let width = events[0].count
        var completions = [muse_completion](repeating: muse_completion(), count: 1024)
        var requests = [muse_request](repeating: muse_request(), count: batch)
        var sent = 0, received = 0, errors = 0
        let start = muse__now_ns()
        flat.withUnsafeBufferPointer { x in
            requests.withUnsafeMutableBufferPointer { requests in
                completions.withUnsafeMutableBufferPointer { completions in
                    var next = 0
                    while received < count {
                        for channel in channels {
                            if sent < count {
                                let n = min(batch, count - sent)
                                for k in 0..<n {
                                    let e = (sent + k) % events.count
                                    requests[k] = muse_request(tag: UInt64(sent + k), intent_id: 1, feature_count: UInt32(width),
                                                               features: x.baseAddress! + e * width)
                                }
                                sent += channel.submit(UnsafeBufferPointer(rebasing: requests[0..<n]))
                            }
                            let got = channel.poll(into: completions)
                            for c in completions[0..<got] where c.status != 0 { errors += 1 }
                            received += got
                        }
                        next += 1
                        if next % 4 == 0 { muse__cpu_relax() }
                    }
                }
            }
        }
        let seconds = Double(muse__now_ns() - start) / 1e9
        if errors > 0 { print("(\(errors) events answered with an error)") }
        return Double(count) / seconds
    }
}

/// The 1-, 5- and 15-minute load averages, to say how busy the machine was.
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}
