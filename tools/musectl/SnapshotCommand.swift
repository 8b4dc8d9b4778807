import ArgumentParser
import Foundation
import MuseCore
import MuseManifest
import MuseScoring
import MuseSnapshot

/// `musectl snapshot build|inspect|verify`: make generation files and look
/// inside them (format: docs/snapshot-format.md).
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Build, inspect and verify generation snapshot files.",
        subcommands: [Build.self, Inspect.self, Verify.self])
}

/// A refusal printed without the usage text; the exit status is non-zero.
struct SnapshotFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension SnapshotCommand {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a snapshot from a TOML manifest: import the models, read or fit the maps, score the canaries.")

        @Argument(help: "The manifest (paths in it are relative to its directory).")
        var manifest: String
        @Option(name: .shortAndLong, help: "Snapshot file to write.")
        var output: String
        @OptionGroup var format: JSONOption

        /// What `--json` prints.
        struct Result: Encodable {
            let ok = true
            let output: String
            let generation: UInt64
            let fileBytes: Int
            let containerBytes: Int
            let models: Int
            let predictors: Int
            let intents: Int
            let routes: Int
            let canaries: Int
            let notes: [String]
        }

        func run() throws {
            let contents: SnapshotContents
            // A ManifestError names the manifest, and the line and key when it can.
            do { contents = try ManifestBuilder(path: manifest).build() } catch { throw SnapshotFailure("\(error)") }
            try SnapshotWriter.write(contents, to: output)
            // Load what was written, as the daemon will, before calling it done.
            let loaded: LoadedSnapshot
            do { loaded = try SnapshotLoader(io: .auto).load(output) } catch {
                throw SnapshotFailure("\(output): the snapshot just written does not load: \(error)")
            }
            if format.json {
                try JSONOutput.print(Result(output: output, generation: loaded.generationID.rawValue, fileBytes: loaded.fileSize,
                                            containerBytes: loaded.containerSize, models: contents.models.count,
                                            predictors: contents.predictors.count, intents: contents.intents.count,
                                            routes: contents.routes.count, canaries: contents.canaries.count,
                                            notes: loaded.routingTable.notes.map { "\($0)" }))
                return
            }
            print("wrote \(output): generation \(loaded.generationID), \(loaded.fileSize) bytes "
                  + "(\(loaded.containerSize) decoded), \(contents.models.count) models, \(contents.predictors.count) predictors, "
                  + "\(contents.intents.count) intents, \(contents.routes.count) routes, \(contents.canaries.count) canaries")
            for note in loaded.routingTable.notes { print("note: \(note)") }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a snapshot: header, sections, models, intents, routes.",
            discussion: """
                With --maps, print instead the score maps the snapshot serves, in the map file format \
                (docs/score-transformation.md): per predictor its pooled map, then one entry per tenant \
                a route serves it to (the tenant's own map, or a fallback to the pooled one), with the \
                level 1 each was fitted after. 'musectl transform apply --maps' reads it and maps \
                scores exactly as mused does.
                """)

        @Argument(help: "Snapshot file.")
        var file: String
        @Flag(help: "Print the maps the snapshot serves as a map file, one per (tenant, predictor).")
        var maps = false
        @OptionGroup var format: JSONOption
        @Option(name: .customLong("max-bytes"), help: "Refuse a file, or content, larger than this (default 512 MiB, as mused).")
        var maximumBytes = SnapshotLoader.defaultMaximumSize

        func run() throws {
            do { try RegularFile.check(file) } catch { throw SnapshotFailure("\(error)") }
            let loaded: LoadedSnapshot
            do {
                loaded = try SnapshotLoader(io: .auto, maximumFileSize: maximumBytes, maximumContentSize: maximumBytes).load(file)
            } catch { throw SnapshotFailure("\(file): \(error)") }
            if maps { return try printMaps(loaded) }
            let summary = SnapshotSummary(loaded)
            if format.json {
                try JSONOutput.print(summary)
            } else {
                print(summary.text)
            }
        }

        /// What `--maps --json` prints: the map file as text, as `transform fit --json` does.
        struct MapsResult: Encodable {
            let ok = true
            let file: String
            let generation: UInt64
            let maps: String
            let unmapped: [ServedMaps.Pair]
        }

        private func printMaps(_ loaded: LoadedSnapshot) throws {
            let served = loaded.contents.servedMaps()
            let text = served.file.encoded()
            if format.json {
                try JSONOutput.print(MapsResult(file: file, generation: loaded.generationID.rawValue, maps: text, unmapped: served.unmapped))
                return
            }
            var out = "# the score maps generation \(loaded.generationID) serves (\(file)), one per (tenant, predictor)\n"
            for pair in served.unmapped {
                out += "# tenant \(pair.tenant), predictor \(pair.predictor): no map, scores are the predictor's posteriors\n"
            }
            print(out + text, terminator: "")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a snapshot as the daemon would and run every check; exit non-zero naming the reason if one fails.",
            discussion: "With --against, also check intent schemas against another snapshot (the serving one).")

        @Argument(help: "Snapshot file.")
        var file: String
        @Option(help: "The serving generation's snapshot, for the intent-schema check.")
        var against: String?
        @Flag(help: "Accept intents whose features changed.")
        var allowSchemaChange = false
        @Flag(help: "Read with plain read instead of io_uring.")
        var plainRead = false
        @Option(name: .customLong("max-bytes"), help: "Refuse a file, or content, larger than this (default 512 MiB, as mused).")
        var maximumBytes = SnapshotLoader.defaultMaximumSize
        @OptionGroup var format: JSONOption

        /// What `--json` prints when every check passed.
        struct Result: Encodable {
            let ok = true
            let file: String
            let generation: UInt64
            let canaries: Int
            let reader: String
            let milliseconds: [String: Double]
            let note: String?
            /// Maps recording no level 1 (made before `correction`): loaded, not checked.
            let uncheckedMaps: [String]
        }

        func run() throws {
            // The loader would wait on a FIFO, and words a missing file less plainly.
            do {
                try RegularFile.check(file)
                if let against { try RegularFile.check(against) }
            } catch {
                throw SnapshotFailure("\(error)")
            }
            let loader = SnapshotLoader(io: plainRead ? .plainRead : .auto, maximumFileSize: maximumBytes,
                                        maximumContentSize: maximumBytes)
            do {
                let loaded = try loader.load(file)
                if let against {
                    let serving = try loader.load(against)
                    try loaded.verify(against: serving.intents, allowSchemaChange: allowSchemaChange)
                }
                let t = loaded.timings
                let unchecked = loaded.contents.mapsWithoutCorrection.map { "\($0.predictor)/\($0.tenant ?? "*")" }
                if format.json {
                    try JSONOutput.print(Result(file: file, generation: loaded.generationID.rawValue, canaries: loaded.canaries.count,
                                                reader: loaded.reader.rawValue,
                                                milliseconds: ["read": milliseconds(t.read), "decode": milliseconds(t.decode),
                                                               "verify": milliseconds(t.verify), "import": milliseconds(t.import)],
                                                note: loaded.fallbackReason.map { "\($0)" }, uncheckedMaps: unchecked))
                    return
                }
                print("ok: generation \(loaded.generationID), \(loaded.canaries.count) canaries reproduced; "
                      + "read \(ms(t.read)) (\(loaded.reader.rawValue)), decode \(ms(t.decode)), verify \(ms(t.verify)), import \(ms(t.import))")
                if let why = loaded.fallbackReason { print("note: \(why)") }
                if !unchecked.isEmpty {
                    print("note: \(unchecked.count) score map\(unchecked.count == 1 ? "" : "s") record no level 1 (written before "
                          + "'correction' existed), so their level 1 is not checked: \(unchecked.joined(separator: ", "))")
                }
            } catch {
                throw SnapshotFailure("\(file): refused: \(error)")
            }
        }
    }
}

func ms(_ d: Duration) -> String {
    String(format: "%.2f ms", milliseconds(d))
}

func milliseconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) * 1e3 + Double(c.attoseconds) * 1e-15
}

/// What `inspect` shows, as one Codable value (the JSON is this).
struct SnapshotSummary: Codable {
    struct Section: Codable { var kind: String; var offset: UInt64; var length: UInt64; var xxh64: String }
    struct Model: Codable {
        var name: String; var kind: String; var features: [String]; var trees: Int?; var nodes: Int?
        var level1: String; var oddsRatio: Double; var sourceFormat: String; var sourceBytes: Int
    }
    struct Predictor: Codable { var name: String; var models: [String]; var weights: [Double] }
    struct Intent: Codable { var name: String; var id: UInt32; var features: [String]; var schemaHash: String }
    struct Route: Codable { var tenant: String; var intent: String; var predictor: String; var shadows: [String] }
    /// `correction`: the level 1 the map records, as the map file writes it
    /// (`0.1`, a blend's `0.1 1.0`); nil when it records none.
    struct Map: Codable {
        var predictor: String; var tenant: String; var reference: String; var knots: Int?; var fallback: String?
        var correction: String?
    }

    /// Always true: a summary is only made of a snapshot that loaded.
    var ok = true
    var generation: UInt64
    var formatVersion: UInt32
    var createdAt: UInt64
    var contentHash: String
    var fileBytes: Int
    var containerBytes: Int
    var metadata: [String: String]
    var sections: [Section]
    var models: [Model]
    var predictors: [Predictor]
    var intents: [Intent]
    var routes: [Route]
    var maps: [Map]
    var canaries: Int

    init(_ s: LoadedSnapshot) {
        generation = s.generationID.rawValue
        formatVersion = s.formatVersion
        createdAt = s.createdAt
        contentHash = hex16(s.contentHash)
        fileBytes = s.fileSize
        containerBytes = s.containerSize
        metadata = Dictionary(s.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        sections = s.sections.map { Section(kind: $0.name, offset: $0.offset, length: $0.length, xxh64: hex16($0.checksum)) }
        models = s.contents.models.map { m in
            var trees: Int?, nodes: Int?
            if case .trees(let t) = m.model { trees = t.treeCount; nodes = t.nodes.count }
            return Model(name: m.name, kind: m.model.kindName, features: m.model.featureNames, trees: trees, nodes: nodes,
                         level1: m.correction.description, oddsRatio: (try? m.correction.correction().oddsRatio) ?? .nan,
                         sourceFormat: m.source.format.rawValue, sourceBytes: m.source.byteCount)
        }
        predictors = s.contents.predictors.map { Predictor(name: $0.name, models: $0.members.map(\.model), weights: $0.members.map(\.weight)) }
        intents = s.intents.map { Intent(name: $0.name, id: $0.id.rawValue, features: $0.featureNames, schemaHash: hex16($0.schemaHash)) }
        routes = s.routes.map { Route(tenant: $0.tenant, intent: $0.intent, predictor: $0.predictor, shadows: $0.shadows) }
        maps = s.contents.scoreMaps.entries.map { e in
            var knots: Int?, fallback: String?
            switch e.content {
            case .map(let m): knots = m.knotCount
            case .fallback(let why): fallback = why
            }
            return Map(predictor: e.predictor, tenant: e.tenant ?? "*", reference: e.reference.description, knots: knots, fallback: fallback,
                       correction: e.recordedCorrection)
        }
        canaries = s.canaries.count
    }

    var text: String {
        var out = "generation \(generation) (format \(formatVersion)), created \(createdAt) (unix s)\n"
        out += "content hash \(contentHash); \(fileBytes) bytes on disk, \(containerBytes) decoded\n"
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) where !v.isEmpty { out += "  \(k): \(v)\n" }
        out += "sections:\n"
        for s in sections {
            out += "  \(s.kind.padding(toLength: 14, withPad: " ", startingAt: 0)) offset \(s.offset) length \(s.length) xxh64 \(s.xxh64)\n"
        }
        out += "models:\n"
        for m in models {
            let shape = m.trees.map { "\($0) trees, \(m.nodes ?? 0) nodes" } ?? "\(m.features.count) coefficients"
            out += "  \(m.name): \(m.kind), \(shape), \(m.features.count) features; level 1: \(m.level1); source \(m.sourceFormat) \(m.sourceBytes) bytes\n"
        }
        out += "predictors:\n"
        for p in predictors {
            out += "  \(p.name): " + zip(p.models, p.weights).map { "\($0) × \($1)" }.joined(separator: " + ") + "\n"
        }
        out += "intents:\n"
        for i in intents { out += "  \(i.name) (id \(i.id), schema \(i.schemaHash)): \(i.features.joined(separator: ", "))\n" }
        out += "routes:\n"
        for r in routes {
            out += "  \(r.tenant)/\(r.intent) → \(r.predictor)" + (r.shadows.isEmpty ? "" : " (shadows: \(r.shadows.joined(separator: ", ")))") + "\n"
        }
        out += "score maps:\n"
        for m in maps {
            out += "  \(m.predictor) / \(m.tenant): \(m.reference), " + (m.knots.map { "\($0) knots" } ?? "uses the pooled map (\(m.fallback ?? ""))")
                + "; level 1 " + (m.correction ?? "not recorded") + "\n"
        }
        out += "canaries: \(canaries)"
        return out
    }
}

func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 16 - s.count)) + s
}
