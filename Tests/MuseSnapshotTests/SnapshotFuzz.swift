import Foundation
import MuseScoring
@testable import MuseSnapshot

/// The committed seed snapshots of the fuzz loop (Fixtures/snapshot-corpus):
/// valid files, each of which must load, and `regression-*` files, inputs
/// that once got past the loader's checks, each of which must be refused.
enum SnapshotCorpus {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/snapshot-corpus")

    struct Seed {
        let name: String
        let file: [UInt8]
        var isRegression: Bool { name.hasPrefix("regression-") }
    }

    /// Sorted by name, so a run is reproducible from its seed alone.
    static func seeds() throws -> [Seed] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".muse") }.sorted()
        return try names.map { Seed(name: $0, file: Array(try Data(contentsOf: directory.appendingPathComponent($0)))) }
    }
}

/// Seeded mutations of a snapshot below its checksums: each works on the
/// decoded container's sections and the result is put back together with
/// every hash and the frame recomputed (`SnapshotSurgery`), so the input
/// reaches the section decoders, the model checks and the routing, not the
/// checksum that would otherwise stop it first.
///
/// - bytes: a flipped bit, an interesting integer over any offset (a
///   section's record count at offset 0 more often), a truncated section,
///   a duplicated run, another section's bytes;
/// - model structure, where the models section says its arrays are: a
///   node's jump, slot, value or category bitset, a root, a lane, one of
///   the four counts, a logistic coefficient or count;
/// - records: one dropped or duplicated (a model, predictor, member,
///   intent, route, shadow, canary, score, metadata entry, source) in one
///   section only, so the sections disagree;
/// - score-map text: a line dropped or duplicated, a number replaced.
struct SnapshotMutator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
    mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }

    static let interesting32: [UInt32] = [0, 1, 2, 3, 4, 15, 16, 17, 255, 256, 0x7FFF, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000,
                                          0xFFFF_FFFF, 0xFFFF_FFFE, 1 << 20, 1 << 24, 1 << 28]
    static let interestingDoubles: [Double] = [0, -0.0, 1, -1, .nan, .infinity, -.infinity, .greatestFiniteMagnitude,
                                               .leastNonzeroMagnitude, 1e-300, 0.5, 1e308]
    static let interestingText: [String] = ["0", "-1", "1", "2", "1000001", "999999999999", "nan", "inf", "-inf", "1e309", "-0", "0.5", "x"]

    mutating func interesting32() -> UInt32 {
        chance(4) ? UInt32(truncatingIfNeeded: rng.next()) : Self.interesting32[below(Self.interesting32.count)]
    }

    /// One to three mutations of `seed`'s sections.
    mutating func mutate(_ seed: SnapshotSurgery, contents: SnapshotContents) -> SnapshotSurgery {
        var s = seed
        for _ in 0...below(3) { mutateOnce(&s, contents) }
        return s
    }

    mutating func mutateOnce(_ s: inout SnapshotSurgery, _ contents: SnapshotContents) {
        let k = below(s.sections.count)
        switch below(16) {
        case 0, 1, 2, 3, 4:
            if let models = editModels(s[.models]) { s[.models] = models } else { flip(&s.sections[k].bytes) }
        case 5, 6, 7:
            let (kind, bytes) = editRecords(contents)
            s[kind] = bytes
        case 8:
            flip(&s.sections[k].bytes)
        case 9, 10:
            var b = s.sections[k].bytes
            let at = chance(3) ? 0 : below(b.count + 1)
            put(interesting32(), at: at, in: &b)
            s.sections[k].bytes = b
        case 11:
            s.sections[k].bytes = Array(s.sections[k].bytes.prefix(below(s.sections[k].bytes.count + 1)))
        case 12:
            var b = s.sections[k].bytes
            guard !b.isEmpty else { return }
            let from = below(b.count), n = 1 + below(min(64, b.count - from))
            b.insert(contentsOf: Array(b[from..<from + n]), at: below(b.count + 1))
            s.sections[k].bytes = b
        case 13:
            s.sections[k].bytes = s.sections[below(s.sections.count)].bytes
        default:
            s[.scoreMaps] = editMapText(s[.scoreMaps])
        }
    }

    mutating func flip(_ b: inout [UInt8]) {
        guard !b.isEmpty else { return }
        b[below(b.count)] ^= 1 << UInt8(below(8))
    }

    /// Writes `v` at `at`, growing nothing: a write past the end is dropped.
    func put<T: FixedWidthInteger>(_ v: T, at: Int, in b: inout [UInt8]) {
        guard at >= 0, at + MemoryLayout<T>.size <= b.count else { return }
        MuseSnapshotTests.put(v, at: at, in: &b)
    }

    /// A structural edit of one model's arrays; nil when the section no
    /// longer parses far enough to find them.
    mutating func editModels(_ section: [UInt8]) -> [UInt8]? {
        guard let layout = try? ModelsLayout(section), !layout.models.isEmpty else { return nil }
        var b = section
        let m = layout.models[below(layout.models.count)]
        guard m.kind == 1, m.nodeCount > 0 else {
            if m.kind == 2 {
                if chance(2), m.coefficientCount > 0 {
                    put(Self.interestingDoubles[below(Self.interestingDoubles.count)].bitPattern, at: m.coefficientsOffset + 8 * below(m.coefficientCount), in: &b)
                } else {
                    put(chance(2) ? UInt32(m.coefficientCount + 1) : interesting32(), at: m.coefficientCountOffset, in: &b)
                }
            }
            return b
        }
        let i = below(m.nodeCount)
        var node = b.node(at: m.nodeOffset(i))
        func randomNode() -> Int { below(m.nodeCount + 2) }
        switch below(10) {
        case 0, 1, 2:
            let targets = [0, i, i + 1, max(i - 1, 0), i + 2, m.nodeCount - 1, m.nodeCount, randomNode()]
            if chance(8) {
                node.skip = Int32(bitPattern: interesting32())
            } else {
                node.jump(from: i, to: targets[below(targets.count)])
            }
        case 3, 4:
            let slots: [UInt32] = [m.terminalSlot, m.leafSlot(0), m.leafSlot(max(m.rootCount - 1, 0)), m.leafSlot(m.rootCount),
                                   UInt32(below(max(m.featureCount, 1))), UInt32(m.featureCount + below(max(m.featureCount, 1))),
                                   node.slot ^ TreeNode.slowFlag, node.slot ^ (1 << 29), node.slot ^ (1 << 30), node.slot ^ TreeNode.missingLeftFlag,
                                   interesting32()]
            node.slot = slots[below(slots.count)]
        case 5:
            if chance(2) {
                let offset = UInt64(chance(2) ? 0 : interesting32()), count = UInt64(chance(2) ? UInt32(below(m.wordCount + 2)) : interesting32())
                node.value = Double(bitPattern: offset << 32 | count)
            } else {
                node.value = Self.interestingDoubles[below(Self.interestingDoubles.count)]
            }
        case 6:
            if m.rootCount > 0 { put(chance(2) ? UInt32(randomNode()) : interesting32(), at: m.rootOffset(below(m.rootCount)), in: &b) }
            return b
        case 7:
            if m.laneCount > 0 { put(chance(2) ? UInt32(randomNode()) : interesting32(), at: m.laneOffset(below(m.laneCount)), in: &b) }
            return b
        case 8:
            let field = below(4)
            let counts = [m.nodeCount, m.rootCount, m.laneCount, m.wordCount]
            let value = chance(2) ? UInt32(max(0, counts[field] + below(3) - 1)) : interesting32()
            put(value, at: m.countsOffset + 4 * field, in: &b)
            return b
        default:
            // Two nodes swapped: each still well formed on its own.
            let j = below(m.nodeCount)
            let other = b.node(at: m.nodeOffset(j))
            b.setNode(node, at: m.nodeOffset(j))
            node = other
        }
        b.setNode(node, at: m.nodeOffset(i))
        return b
    }

    /// Drops or duplicates one record of one list, and encodes only the
    /// section that holds it.
    mutating func editRecords(_ contents: SnapshotContents) -> (SectionKind, [UInt8]) {
        var c = contents
        func edit<T>(_ list: inout [T]) {
            guard !list.isEmpty else { return }
            let i = below(list.count)
            if chance(2) { list.remove(at: i) } else { list.insert(list[i], at: below(list.count + 1)) }
        }
        switch below(11) {
        case 0: edit(&c.metadata); return (.metadata, c.encodeMetadata())
        case 1: edit(&c.intents); return (.intents, c.encodeIntents())
        case 2: edit(&c.predictors); return (.predictors, c.encodePredictors())
        case 3:
            if !c.predictors.isEmpty { let p = below(c.predictors.count); edit(&c.predictors[p].members) }
            return (.predictors, c.encodePredictors())
        case 4: edit(&c.models); return (.corrections, c.encodeCorrections())
        case 5: edit(&c.models); return (.models, c.encodeModels())
        case 6: edit(&c.models); return (.modelSources, c.encodeSources())
        case 7: edit(&c.routes); return (.routes, c.encodeRoutes())
        case 8:
            if !c.routes.isEmpty {
                let r = below(c.routes.count)
                if c.routes[r].shadows.isEmpty { c.routes[r].shadows = [c.predictors.randomName(&self)] } else { edit(&c.routes[r].shadows) }
            }
            return (.routes, c.encodeRoutes())
        case 9: edit(&c.canaries); return (.canaries, c.encodeCanaries())
        default:
            if !c.canaries.isEmpty {
                let n = below(c.canaries.count)
                if chance(2) { edit(&c.canaries[n].features) } else { edit(&c.canaries[n].expected) }
            }
            return (.canaries, c.encodeCanaries())
        }
    }

    /// A line dropped or duplicated, or a number replaced.
    mutating func editMapText(_ bytes: [UInt8]) -> [UInt8] {
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return bytes }
        let i = below(lines.count)
        switch below(3) {
        case 0: lines.remove(at: i)
        case 1: lines.insert(lines[i], at: i)
        default:
            var words = lines[i].split(separator: " ").map(String.init)
            if !words.isEmpty { words[below(words.count)] = Self.interestingText[below(Self.interestingText.count)] }
            lines[i] = words.joined(separator: " ")
        }
        return Array(lines.joined(separator: "\n").utf8)
    }
}

extension [PredictorSpec] {
    func randomName(_ m: inout SnapshotMutator) -> String { isEmpty ? "nobody" : self[m.below(count)].name }
}

/// The loop: mutate a seed, load the result, and check what came back.
struct SnapshotFuzzLoop {
    static let defaultSeed: UInt64 = 0x534E_4150_4655_5A5A
    static let defaultIterations = 1000

    struct Seed {
        let name: String
        let surgery: SnapshotSurgery
        let contents: SnapshotContents
    }

    let seeds: [Seed]
    /// The seed with the smallest file, whose loads are the fastest.
    let small: Int

    init(_ corpus: [SnapshotCorpus.Seed]) throws {
        let valid = corpus.filter { !$0.isRegression }
        seeds = try valid.map { s in
            Seed(name: s.name, surgery: try SnapshotSurgery(file: s.file),
                 contents: try SnapshotLoader(io: .plainRead, keepModelSources: true).load(bytes: s.file).contents)
        }
        small = valid.indices.min { valid[$0].file.count < valid[$1].file.count } ?? 0
    }

    struct Report: CustomStringConvertible {
        var seed: UInt64
        var iterations = 0
        var accepted = 0
        var refused = 0
        var messages = Set<String>()
        var slowest: Duration = .zero
        var elapsed: Duration = .zero
        var findings: [String] = []

        var description: String {
            "snapshot fuzz: \(iterations) inputs in \(elapsed) (seed \(seed)): \(accepted) accepted, \(refused) refused "
                + "with \(messages.count) distinct messages, slowest input \(slowest), \(findings.count) findings"
        }
    }

    static var lastInputPath: String {
        FileManager.default.temporaryDirectory.appendingPathComponent("muse-fuzz-snapshot-\(getpid()).muse").path
    }

    /// `iterations` inputs, or as many as fit in `seconds` when given.
    func run(iterations: Int = defaultIterations, seconds: Double? = nil, seed: UInt64 = defaultSeed) -> Report {
        var mutator = SnapshotMutator(seed: seed)
        var report = Report(seed: seed)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = seconds.map { start + .milliseconds(Int($0 * 1000)) }
        var i = 0
        while deadline.map({ clock.now < $0 }) ?? (i < iterations) {
            // The small seed three times in four, any seed otherwise.
            let base = mutator.chance(4) ? seeds[mutator.below(seeds.count)] : seeds[small]
            let input: [UInt8]
            do { input = try mutator.mutate(base.surgery, contents: base.contents).file() } catch {
                report.findings.append("input \(i): could not be framed: \(error)")
                i += 1
                continue
            }
            _ = FileManager.default.createFile(atPath: Self.lastInputPath, contents: Data(input))
            let t0 = clock.now
            switch Self.check(input) {
            case .accepted: report.accepted += 1
            case .refused(let message):
                report.refused += 1
                if report.messages.count < 10_000 { report.messages.insert(String(message.map { $0.isNumber ? "#" : $0 }.prefix(100))) }
            case .finding(let what):
                let kept = FileManager.default.temporaryDirectory.appendingPathComponent("muse-fuzz-snapshot-finding-\(i).muse")
                _ = FileManager.default.createFile(atPath: kept.path, contents: Data(input))
                report.findings.append("input \(i) (from \(base.name)), kept in \(kept.path): \(what)")
            }
            report.slowest = max(report.slowest, clock.now - t0)
            i += 1
        }
        report.iterations = i
        report.elapsed = clock.now - start
        try? FileManager.default.removeItem(atPath: Self.lastInputPath)
        return report
    }

    enum Outcome: Equatable {
        case accepted
        case refused(String)
        case finding(String)
    }

    /// Loads `file`. A refusal must say why; a generation that loads must
    /// score every route, and each tree ensemble's two layouts must agree
    /// bit for bit (the canaries checked the recorded rows only).
    static func check(_ file: [UInt8]) -> Outcome {
        let loaded: LoadedSnapshot
        do { loaded = try SnapshotLoader(io: .plainRead).load(bytes: file) } catch {
            return error.description.isEmpty ? .finding("a refusal without a message") : .refused(error.description)
        }
        let table = loaded.routingTable
        for r in loaded.routes {
            guard let intent = loaded.intents.first(where: { $0.name == r.intent }),
                  let t = table.tenantID(r.tenant), let i = table.intentID(r.intent) else {
                return .finding("route \(r.tenant)/\(r.intent) is not in the routing table")
            }
            for x in Canaries.generatedFeatures(for: intent, count: 3, seed: 11) {
                let outcome = x.withUnsafeBufferPointer { table.score(tenant: t, intent: i, features: $0) }
                guard case .scored = outcome else { return .finding("route \(r.tenant)/\(r.intent) does not score: \(outcome)") }
            }
        }
        for m in loaded.contents.models {
            guard case .trees(let trees) = m.model, trees.featureNames.count <= 1024 else { continue }
            let walk = trees.with(layout: .laneWalk), bits = trees.with(layout: .bitvector)
            for v in [0, .nan, 1, -1, 3, 1e9, -1e-36] as [Double] {
                let row = [Double](repeating: v, count: trees.featureNames.count)
                let a = row.withUnsafeBufferPointer { walk.margin($0) }, b = row.withUnsafeBufferPointer { bits.margin($0) }
                guard a.bitPattern == b.bitPattern else {
                    return .finding("model '\(m.name)': the lane walk gives \(a) and the bitvector layout \(b) for a row of \(v)")
                }
            }
        }
        return .accepted
    }
}
