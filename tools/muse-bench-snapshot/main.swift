import Foundation
import MuseBenchSupport
import MuseScoring
import MuseSnapshot

// Snapshot loading benchmark. Builds a generation of synthetic
// LightGBM models (about --text-mb MB of model text), writes it as a
// snapshot, and times: reading the file (io_uring, plain read, mmap; warm
// and, where /proc/sys/vm/drop_caches may be written, cold), LZ4 frame
// decoding beside `lz4 -b` on the same bytes, read + decode, the whole load
// (read + decode + verify + import, no text parsed), and importing the same
// models from their text. Prints a table.
//
//   swift build -c release --product muse-bench-snapshot
//   .build/release/muse-bench-snapshot [--text-mb 200] [--models 4] [--runs 5] [--dir .build/bench-snapshot]

var options = Options(CommandLine.arguments.dropFirst())
let dir = options.string("--dir", ".build/bench-snapshot")
let textMB = options.int("--text-mb", 200)
let modelCount = options.int("--models", 4)
let runs = options.int("--runs", 5)
let uringChunk = options.int("--uring-chunk-kb", 1024) * 1024
let uringDepth = options.int("--uring-depth", 8)
let readOnly = CommandLine.arguments.contains("--read-only")
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

// 1. Model text. A 63-leaf tree of 20 features is about 6.4 kB of LightGBM text.
let treesPerModel = max(1, textMB * 1_000_000 / modelCount / 6_400)
print("generating \(modelCount) LightGBM models of \(treesPerModel) trees (63 leaves, 20 features)...")
let synthetic = (0..<modelCount).map { SyntheticLightGBM(trees: treesPerModel, leaves: 63, features: 20, seed: UInt64($0) + 1) }
let texts = synthetic.map { $0.text() }
let textBytes = texts.reduce(0) { $0 + $1.count }

// 2. The same generation imported from text: what a load would cost without snapshots.
func importFromText() throws -> (SnapshotContents, RoutingTable) {
    var models = [ModelEntry]()
    for (i, text) in texts.enumerated() {
        models.append(ModelEntry(name: "m\(i)", model: try SnapshotModel(try ModelImporter.load(text)),
                                 source: ModelSource(format: .lightgbm, bytes: text)))
    }
    let intent = IntentSchema(name: "card-not-present", id: 1, featureNames: synthetic[0].featureNames)
    var contents = SnapshotContents(
        generationID: 1, createdAt: 1764000000, metadata: [MetadataEntry("built-by", "muse-bench-snapshot")],
        models: models, scoreMaps: ScoreMapFile(entries: []),
        predictors: (0..<modelCount).map { PredictorSpec(name: "p\($0)", members: [.init(model: "m\($0)")]) },
        intents: [intent],
        routes: (0..<modelCount).map { RouteSpec(tenant: "tenant-\($0)", intent: intent.name, predictor: "p\($0)") })
    let table = try contents.routingTable()
    contents.canaries = try Canaries.record(
        contents.routes.flatMap { r in Canaries.generatedFeatures(for: intent, count: 4, seed: 7).map {
            CanaryEvent(tenant: r.tenant, intent: r.intent, features: $0) } }, table: table)
    return (contents, table)
}
var importTimes = [Double]()
var contents: SnapshotContents!
for _ in 0..<2 {
    let t = try time { contents = try importFromText().0 }
    importTimes.append(t)
}

// 3. The snapshot file, and its container as a plain file for `lz4 -b`.
let path = dir + "/bench.muse"
let writeTime = try time { try SnapshotWriter.write(contents, to: path) }
let container = SnapshotWriter.container(contents)
let containerPath = dir + "/bench.container"
try SnapshotWriter.writeFile(container, to: containerPath)
let fileSize = try FileDescriptor.open(path).regularFileSize()
contents = nil

// 4. Reading the file.
let uring = FileLoader(io: .ioUring, uring: IOUringReader(chunkSize: uringChunk, depth: uringDepth))
let plain = FileLoader(io: .plainRead)
let cold = CacheDropper()
print("load average at start: \(loadAverage())")
let coldRuns = options.int("--cold-runs", 5)
var rows: [Row] = []
for (name, reader) in [("io_uring", { _ = try uring.read(path) }), ("plain read", { _ = try plain.read(path) }),
                       ("mmap + touch", { _ = try mmapTouch(path) })] as [(String, () throws -> Void)] {
    rows.append(Row(what: "read file, warm: \(name)", timings: try measure(runs) { try reader() }, bytes: fileSize))
    if cold.permitted {
        rows.append(Row(what: "read file, cold: \(name)", timings: try measure(coldRuns, before: { cold.drop(path) }) { try reader() }, bytes: fileSize))
    }
}

if readOnly {
    print("io_uring: \(uringChunk >> 10) KiB × \(uringDepth) in flight")
    for r in rows { print(r.line) }
    exit(0)
}

// 5. Decoding, beside lz4 -b on the same (decoded) bytes.
let file = try plain.read(path).buffer
let decode = try measure(runs) { _ = try LZ4Frame.decompress(file.bytes, verifyContentChecksum: false) }
rows.append(Row(what: "LZ4 decode, fresh buffer (as a load does)", timings: decode, bytes: container.count))
let decodeInline = try measure(runs) { _ = try LZ4Frame.decompress(file.bytes, verifyContentChecksum: true, checksumThread: false) }
rows.append(Row(what: "LZ4 decode, fresh buffer + XXH32 by liblz4, inline", timings: decodeInline, bytes: container.count))
let decodeChecked = try measure(runs) { _ = try LZ4Frame.decompress(file.bytes, verifyContentChecksum: true, checksumThread: true) }
rows.append(Row(what: "LZ4 decode, fresh buffer + XXH32 on a 2nd thread (load)", timings: decodeChecked, bytes: container.count))
let reused = try LargeBuffer(count: container.count)
let decodeReused = try measure(runs) { try LZ4Frame.decompress(file.bytes, into: reused.mutableBytes, verifyContentChecksum: false) }
rows.append(Row(what: "LZ4 decode, reused buffer (as lz4 -b does)", timings: decodeReused, bytes: container.count))
let lz4bRuns = [LZ4Bench.run(containerPath), LZ4Bench.run(containerPath)]
let lz4b = lz4bRuns.max { ($0.decodeMBps ?? 0) < ($1.decodeMBps ?? 0) }!
if let mbps = lz4b.decodeMBps {
    rows.append(Row(what: "lz4 -b decode, same bytes (block API, no checksum)", timings: Timings(times: [Double(container.count) / (mbps * 1e6)]), bytes: container.count))
}

// 6. Read + decode, and the whole load, measured alternately so that both
// meet the same interference from whatever else the machine runs.
var readDecodeTimes = [Double](), loadTimes = [Double]()
var lastLoad: LoadedSnapshot!
for _ in 0..<runs {
    readDecodeTimes.append(try time {
        let read = try uring.read(path).buffer
        _ = try withExtendedLifetime(read) { try LZ4Frame.decompress(read.bytes, verifyContentChecksum: true) }
    })
    loadTimes.append(try time { lastLoad = try SnapshotLoader(io: .ioUring).load(path) })
}
let readDecode = Timings(times: readDecodeTimes), load = Timings(times: loadTimes)
let pairRatio = Timings(times: zip(loadTimes, readDecodeTimes).map { $0 / $1 }).median
rows.append(Row(what: "read + decode (io_uring, frame XXH32 on)", timings: readDecode, bytes: fileSize))
rows.append(Row(what: "whole load: read + decode + verify + import", timings: load, bytes: fileSize))
let mappedDecode = try measure(runs) { _ = try withMapped(path) { try LZ4Frame.decompress($0, verifyContentChecksum: true) } }
rows.append(Row(what: "mmap + decode from the mapping, warm", timings: mappedDecode, bytes: fileSize))
if cold.permitted {
    let coldRead = try measure(coldRuns, before: { cold.drop(path) }) {
        let read = try uring.read(path).buffer
        _ = try withExtendedLifetime(read) { try LZ4Frame.decompress(read.bytes, verifyContentChecksum: true) }
    }
    rows.append(Row(what: "read + decode (io_uring), cold", timings: coldRead, bytes: fileSize))
    let coldMapped = try measure(coldRuns, before: { cold.drop(path) }) {
        _ = try withMapped(path) { try LZ4Frame.decompress($0, verifyContentChecksum: true) }
    }
    rows.append(Row(what: "mmap + decode from the mapping, cold", timings: coldMapped, bytes: fileSize))
    let coldLoad = try measure(coldRuns, before: { cold.drop(path) }) { _ = try SnapshotLoader(io: .ioUring).load(path) }
    rows.append(Row(what: "whole load, cold", timings: coldLoad, bytes: fileSize))
}
rows.append(Row(what: "import from model text (for comparison)", timings: Timings(times: importTimes), bytes: textBytes))

// 7. Report.
let t = lastLoad.timings
print("""

    snapshot: \(mb(fileSize)) on disk, \(mb(container.count)) decoded, \(mb(textBytes)) of model text in \(modelCount) models \
    (\(treesPerModel) trees each, \(lastLoad.contents.models.reduce(0) { n, m in if case .trees(let e) = m.model { return n + e.nodes.count }; return n }) nodes); \
    written in \(fmt(writeTime)) s
    load average at the end: \(loadAverage()) (2 vCPUs shared with other builds)
    cache drop: \(cold.permitted ? "echo 3 > /proc/sys/vm/drop_caches before each cold run" : "not permitted here (\(cold.reason)); cold rows skipped")
    lz4 -b: \(lz4b.line)

    """)
print(Row.header)
for r in rows { print(r.line) }
let lz4bSeconds = lz4b.decodeMBps.map { Double(container.count) / ($0 * 1e6) }
print("""

    ratios of the minimum times (lz4 -b reports its fastest run):
    decode vs lz4 -b:          reused buffer \(lz4bSeconds.map { fmt(decodeReused.min / $0) + "x" } ?? "n/a") (goal ≤ 1.2x); \
    fresh buffer \(lz4bSeconds.map { fmt(decode.min / $0) + "x" } ?? "n/a"); \
    fresh + XXH32 thread (as a load decodes) \(lz4bSeconds.map { fmt(decodeChecked.min / $0) + "x" } ?? "n/a"); fresh + inline XXH32 \(lz4bSeconds.map { fmt(decodeInline.min / $0) + "x" } ?? "n/a")
    whole load vs read+decode: \(fmt(load.min / readDecode.min))x by minimum times, \(fmt(pairRatio))x median of alternating pairs (goal ≤ 1.5x)
    text import vs whole load: \(fmt(importTimes.min()! / load.min))x slower
    last load's steps: read \(ms(t.read)), decode \(ms(t.decode)), verify \(ms(t.verify)), import \(ms(t.import)) (\(lastLoad.reader.rawValue))
    """)
