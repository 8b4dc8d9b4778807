import Foundation
import MuseTestSupport
import Testing
import MuseScoring
@testable import MuseSnapshot

/// Snapshots whose checksums are all right but whose structures are not:
/// each test edits one section of a real generation, recomputes every hash
/// and the frame (`SnapshotSurgery`), and expects a refusal naming the
/// section or model and the fault, never a crash, a hang or a huge
/// allocation. Checksums prove the bytes are the ones written; these
/// checks are what make a file from a broken or hostile writer harmless.
@Suite struct StructuralCorruptionTests {
    // MARK: trees (the demo generation's LightGBM model)

    static let demoModel = "cnp-gbdt"

    /// Applies `edit` to the demo model's bytes in the models section (or
    /// another model's, in another file).
    func demoWith(file: [UInt8] = DemoGeneration.file, model: String = demoModel,
                  _ edit: (inout [UInt8], ModelsLayout.Model) throws -> Void) throws -> [UInt8] {
        var s = try SnapshotSurgery(file: file)
        var models = s[.models]
        let m = try ModelsLayout(models)[model]
        try edit(&models, m)
        s[.models] = models
        return try s.file()
    }

    func expectRefusal(_ file: [UInt8], _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = refusal(file) else {
            Issue.record("accepted", sourceLocation: sourceLocation)
            return
        }
        for f in fragments {
            #expect(e.description.contains(f), "\(e.description) does not mention \(f)", sourceLocation: sourceLocation)
        }
    }

    /// The fault an independent check found: a split of the first tree
    /// jumping back to node 0 passed the old per-node check (node 0 is the
    /// terminal node) and sent the bitvector builder round in circles until
    /// an allocation failed.
    @Test func aSplitJumpingBackToNodeZeroIsRefused() throws {
        var at = 0
        let file = try demoWith { b, m in
            let tree = FlatTree(b, m, tree: 0)
            let (i, split) = tree.splits.count > 1 ? tree.splits[1] : tree.splits[0]
            var node = split
            node.jump(from: i, to: 0)
            b.setNode(node, at: m.nodeOffset(i))
            at = i
        }
        expectRefusal(file, "model '\(Self.demoModel)'", "tree 0, node \(at)", "jumps back to node 0",
                      "a split's jump must go forward inside its tree")
    }

    @Test func aJumpBackwardsInsideTheTreeIsRefused() throws {
        var at = 0, to = 0
        let file = try demoWith { b, m in
            let tree = FlatTree(b, m, tree: 0)
            let (i, split) = tree.splits.last!
            var node = split
            to = tree.root
            node.jump(from: i, to: to)
            b.setNode(node, at: m.nodeOffset(i))
            at = i
        }
        expectRefusal(file, "model '\(Self.demoModel)'", "tree 0, node \(at)", "jumps back to node \(to)")
    }

    /// Forward and inside the array, so the old check let it through, but
    /// into the next tree: tree 0's nodes after the root's first subtree
    /// would belong to no tree.
    @Test func aJumpPastTheTreesEndIsRefused() throws {
        var root = 0, target = 0
        let file = try demoWith { b, m in
            let tree = FlatTree(b, m, tree: 0)
            root = tree.root
            var node = b.node(at: m.nodeOffset(root))
            target = tree.end + 1
            node.jump(from: root, to: target)
            b.setNode(node, at: m.nodeOffset(root))
        }
        expectRefusal(file, "model '\(Self.demoModel)'", "tree 0, node \(root)", "jumps to node \(target)", "past the end of tree 0")
    }

    @Test func aJumpPastItsSubtreeIsRefused() throws {
        // A split inside the root's first subtree jumping into the root's
        // second subtree: forward and inside its tree, but its own subtree
        // would overlap its sibling's. (The demo's trees are too shallow.)
        var at = 0, tree = 0
        let file = try demoWith(file: RefusalTests.good, model: "cnp-deep") { b, m in
            for t in 0..<m.rootCount {
                let flat = FlatTree(b, m, tree: t)
                let root = b.node(at: m.nodeOffset(flat.root))
                let rootJump = root.jumpTarget(at: flat.root)
                guard let (i, split) = flat.splits.first(where: { $0.index > flat.root && $0.index < rootJump }) else { continue }
                var node = split
                node.jump(from: i, to: rootJump + 1)
                b.setNode(node, at: m.nodeOffset(i))
                at = i
                tree = t
                return
            }
            Issue.record("no tree has a split below its root")
        }
        expectRefusal(file, "model 'cnp-deep'", "tree \(tree), node \(at)", "past the end of its subtree")
    }

    @Test func aLeafHoldingAnotherTreesSlotIsRefused() throws {
        var at = 0
        let file = try demoWith { b, m in
            let (i, leaf) = FlatTree(b, m, tree: 0).leaves[0]
            var node = leaf
            node.slot = m.leafSlot(1)
            b.setNode(node, at: m.nodeOffset(i))
            at = i
        }
        expectRefusal(file, "model '\(Self.demoModel)'", "tree 0, node \(at)", "tree 1's leaf slot")
    }

    @Test func aLeafJumpingElsewhereThanItsLaneIsRefused() throws {
        var at = 0
        let file = try demoWith { b, m in
            let tree = FlatTree(b, m, tree: 0)
            let (i, leaf) = tree.leaves[0]
            var node = leaf
            node.jump(from: i, to: tree.end)  // the next tree, not the next of its lane
            b.setNode(node, at: m.nodeOffset(i))
            at = i
        }
        expectRefusal(file, "tree 0, node \(at)", "a leaf jumping to node", "the root of tree 16")
    }

    @Test func overlappingOrGappedRootsAreRefused() throws {
        // Tree 1 starting where tree 0 does.
        let overlap = try demoWith { b, m in
            put(b.u32(at: m.rootOffset(0)), at: m.rootOffset(1), in: &b)
        }
        expectRefusal(overlap, "model '\(Self.demoModel)'", "tree 1", "not after tree 0")
        // Tree 1 starting one node late (its lane moved with it, so only the
        // trees' shapes can tell): tree 0 would own a node of tree 1.
        let gap = try demoWith { b, m in
            let late = b.u32(at: m.rootOffset(1)) + 1
            put(late, at: m.rootOffset(1), in: &b)
            put(late, at: m.laneOffset(1), in: &b)
        }
        expectRefusal(gap, "model '\(Self.demoModel)'", "tree 0, node")
        // The first tree not at node 1.
        let late = try demoWith { b, m in put(UInt32(2), at: m.rootOffset(0), in: &b) }
        expectRefusal(late, "tree 0", "starts at node 2")
        // A root past the nodes.
        var lastTree = 0
        let past = try demoWith { b, m in
            put(UInt32(m.nodeCount), at: m.rootOffset(m.rootCount - 1), in: &b)
            lastTree = m.rootCount - 1
        }
        expectRefusal(past, "tree \(lastTree)", "past the")
    }

    @Test func wrongLanesAreRefused() throws {
        let swapped = try demoWith { b, m in
            let a = b.u32(at: m.laneOffset(0)), c = b.u32(at: m.laneOffset(1))
            put(c, at: m.laneOffset(0), in: &b)
            put(a, at: m.laneOffset(1), in: &b)
        }
        expectRefusal(swapped, "model '\(Self.demoModel)'", "lane 0", "the root of tree 0")
        let zero = try demoWith { b, m in put(UInt32(0), at: m.laneOffset(3), in: &b) }
        expectRefusal(zero, "lane 3", "starts at node 0")
    }

    @Test func aSplitOnTheTerminalSlotIsRefused() throws {
        var at = 0
        let file = try demoWith { b, m in
            let (i, split) = FlatTree(b, m, tree: 2).splits[0]
            var node = split
            node.slot = m.terminalSlot
            b.setNode(node, at: m.nodeOffset(i))
            at = i
        }
        expectRefusal(file, "tree 2, node \(at)", "terminal slot")
    }

    // MARK: categorical splits (generation 1's LightGBM categorical model)

    static let categoricalModel = "cp-categorical"

    func categoricalWith(_ edit: (inout [UInt8], ModelsLayout.Model, [(index: Int, node: TreeNode)]) throws -> Void) throws -> [UInt8] {
        var s = try SnapshotSurgery(Examples.generation1)
        var models = s[.models]
        let m = try ModelsLayout(models)[Self.categoricalModel]
        let categorical = (1..<m.nodeCount).map { ($0, models.node(at: m.nodeOffset($0))) }
            .filter { $0.1.isSlow && ($0.1.rule == .lightgbmCategory || $0.1.rule == .xgboostCategory) }
        #expect(categorical.count > 2, "the categorical model has \(categorical.count) categorical splits")
        try edit(&models, m, categorical)
        s[.models] = models
        return try s.file()
    }

    static func packed(_ offset: Int, _ count: Int) -> Double { Double(bitPattern: UInt64(offset) << 32 | UInt64(count)) }

    @Test func aFeatureIndexOutOfRangeIsRefused() throws {
        var at = 0, features = 0
        let file = try categoricalWith { b, m, splits in
            var node = splits[0].node
            node.slot = node.slot & ~TreeNode.slotMask | UInt32(m.featureCount)
            b.setNode(node, at: m.nodeOffset(splits[0].index))
            at = splits[0].index
            features = m.featureCount
        }
        expectRefusal(file, "model '\(Self.categoricalModel)'", "node \(at)", "splits on feature \(features) but the model has \(features)")
    }

    @Test func aCategoryBitsetOutOfRangeIsRefused() throws {
        var at = 0
        let file = try categoricalWith { b, m, splits in
            let last = splits.last!
            var node = last.node
            let offset = Int(node.value.bitPattern >> 32)
            node.value = Self.packed(offset, m.wordCount - offset + 1)
            b.setNode(node, at: m.nodeOffset(last.index))
            at = last.index
        }
        expectRefusal(file, "model '\(Self.categoricalModel)'", "node \(at)", "category bitset")
    }

    /// Every categorical split naming the same million words: the old
    /// per-node bound check passed, and the bitvector builder would have
    /// counted bits over all of them per split and made a table of 32
    /// million categories before deciding it does not fit.
    @Test func aHugeCategoryBitsetSharedByManySplitsIsRefused() throws {
        let extra = 1 << 20
        var words = 0
        let file = try categoricalWith { b, m, splits in
            words = m.wordCount + extra
            for (i, split) in splits {
                var node = split
                node.value = Self.packed(0, words)
                b.setNode(node, at: m.nodeOffset(i))
            }
            put(UInt32(words), at: m.countsOffset + 12, in: &b)
            // The words array grows; the section's padding after it stays a multiple of 16.
            let end = m.wordsOffset + 4 * m.wordCount
            b.insert(contentsOf: [UInt8](repeating: 0xFF, count: 4 * extra), at: end)
        }
        expectRefusal(file, "model '\(Self.categoricalModel)'", "category bitset 0+\(words)")
    }

    @Test func categoryWordsNoSplitUsesAreRefused() throws {
        let file = try categoricalWith { b, m, _ in
            put(UInt32(m.wordCount + 4), at: m.countsOffset + 12, in: &b)
            b.insert(contentsOf: [UInt8](repeating: 0, count: 16), at: m.wordsOffset + 4 * m.wordCount)
        }
        expectRefusal(file, "model '\(Self.categoricalModel)'", "category words", "the categorical splits use")
    }

    // MARK: the other sections (generation 1)

    func generation1With(_ kind: SectionKind, _ bytes: (SnapshotContents, [UInt8]) throws -> [UInt8]) throws -> [UInt8] {
        var s = try SnapshotSurgery(Examples.generation1)
        s[kind] = try bytes(Examples.generation1, s[kind])
        return try s.file()
    }

    @Test func modelFaultsAreRefused() throws {
        // Two models of one name.
        let twice = try generation1With(.models) { g, _ in
            var c = g
            c.models.append(c.models[0])
            return c.encodeModels()
        }
        expectRefusal(twice, "model '\(Examples.generation1.models[0].name)'", "defined twice")
        // An unknown model kind.
        let kind = try generation1With(.models) { _, b in
            var b = b
            let name = Examples.generation1.models[0].name
            b[4 + 4 + name.utf8.count] = 9
            return b
        }
        expectRefusal(kind, "section 'models'", "unknown model kind 9")
        // A logistic coefficient that is not finite.
        let nan = try generation1With(.models) { _, b in
            var b = b
            let m = try ModelsLayout(b).models.first { $0.kind == 2 }!
            put(Double.nan.bitPattern, at: m.coefficientsOffset, in: &b)
            return b
        }
        expectRefusal(nan, "not finite")
    }

    @Test func intentFaultsAreRefused() throws {
        let sameID = try generation1With(.intents) { g, _ in
            var c = g
            c.intents[1] = IntentSchema(name: c.intents[1].name, id: c.intents[0].id, featureNames: c.intents[1].featureNames)
            return c.encodeIntents()
        }
        expectRefusal(sameID, "intent '\(Examples.generation1.intents[1].name)'", "is used by another intent")
        let hugeList = try generation1With(.intents) { _, b in
            var b = b
            // The first intent's feature-name count, after its name, id and hash.
            put(UInt32.max, at: 4 + 4 + Examples.generation1.intents[0].name.utf8.count + 4 + 8, in: &b)
            return b
        }
        expectRefusal(hugeList, "section 'intents'", "count 4294967295 is more than")
        let tooMany = try generation1With(.intents) { g, _ in
            var c = g
            c.intents = (0..<49).map { IntentSchema(name: "i\($0)", id: IntentID(UInt32($0)), featureNames: ["x"]) }
            return c.encodeIntents()
        }
        expectRefusal(tooMany, "49 intents")
    }

    @Test func predictorFaultsAreRefused() throws {
        for weight in [Double.nan, .infinity, -1, 0] {
            let bad = try generation1With(.predictors) { g, _ in
                var c = g
                c.predictors[0].members[0].weight = weight
                return c.encodePredictors()
            }
            expectRefusal(bad, "section 'predictors'", "predictor '\(Examples.generation1.predictors[0].name)'",
                          "weight \(weight)", "positive finite")
        }
        let ghost = try generation1With(.predictors) { g, _ in
            var c = g
            c.predictors[0].members.append(.init(model: "ghost", weight: 1))
            return c.encodePredictors()
        }
        expectRefusal(ghost, "ghost", "not defined")
        let empty = try generation1With(.predictors) { g, _ in
            var c = g
            c.predictors[0].members = []
            return c.encodePredictors()
        }
        expectRefusal(empty, "has no models")
        let twice = try generation1With(.predictors) { g, _ in
            var c = g
            c.predictors.append(c.predictors[0])
            return c.encodePredictors()
        }
        expectRefusal(twice, "predictor '\(Examples.generation1.predictors[0].name)'", "defined twice")
    }

    @Test func correctionFaultsAreRefused() throws {
        let name = Examples.generation1.models[0].name
        let unknown = try generation1With(.corrections) { _, b in
            var b = b
            b[4 + 4 + name.utf8.count] = 7
            return b
        }
        expectRefusal(unknown, "section 'corrections'", "model '\(name)'", "unknown level-1 kind 7")
        let odds = try generation1With(.corrections) { _, b in
            var b = b
            let at = 4 + 4 + name.utf8.count + 1 + 16
            put(Double(3).bitPattern, at: at, in: &b)
            return b
        }
        expectRefusal(odds, "model '\(name)'", "does not follow from its setting")
    }

    @Test func routeFaultsAreRefused() throws {
        let intent = try generation1With(.routes) { g, _ in
            var c = g
            c.routes[0].intent = "no-such-intent"
            return c.encodeRoutes()
        }
        expectRefusal(intent, "routing", "no-such-intent", "not defined")
        let shadows = try generation1With(.routes) { g, _ in
            var c = g
            c.routes = [c.routes[0]]
            c.routes[0].shadows = []
            var b = c.encodeRoutes()
            b.removeLast(4)
            b += [0xFF, 0xFF, 0xFF, 0x7F]
            return b
        }
        expectRefusal(shadows, "section 'routes'", "shadows count 2147483647 is more than")
        let twice = try generation1With(.routes) { g, _ in
            var c = g
            c.routes.append(c.routes[0])
            return c.encodeRoutes()
        }
        expectRefusal(twice, "route '\(Examples.generation1.routes[0].tenant)/\(Examples.generation1.routes[0].intent)'", "defined twice")
    }

    @Test func canaryFaultsAreRefused() throws {
        let features = try generation1With(.canaries) { g, _ in
            var c = g
            c.canaries = [c.canaries[0]]
            var b = c.encodeCanaries()
            let at = 4 + 4 + c.canaries[0].tenant.utf8.count + 4 + c.canaries[0].intent.utf8.count
            put(UInt32(1 << 30), at: at, in: &b)
            return b
        }
        expectRefusal(features, "section 'canaries'", "features count 1073741824 is more than")
        let noRoute = try generation1With(.canaries) { g, _ in
            var c = g
            c.canaries[0].tenant = "nobody"
            return c.encodeCanaries()
        }
        expectRefusal(noRoute, "canary 0", "no route for nobody/")
        let width = try generation1With(.canaries) { g, _ in
            var c = g
            c.canaries[0].features.append(1)
            return c.encodeCanaries()
        }
        expectRefusal(width, "canary 0", "features do not fit")
    }

    @Test func scoreMapFaultsAreRefused() throws {
        let knots = try generation1With(.scoreMaps) { g, _ in
            var text = g.scoreMaps.encoded()
            text = text.replacingOccurrences(of: "knots ", with: "knots 9", options: [], range: text.range(of: "knots "))
            return Array(text.utf8)
        }
        expectRefusal(knots, "score maps", "knots")
        let ghost = try generation1With(.scoreMaps) { g, _ in
            Array(g.scoreMaps.encoded().replacingOccurrences(of: "predictor \(g.scoreMaps.entries[0].predictor)\n", with: "predictor ghost\n").utf8)
        }
        expectRefusal(ghost, "score maps", "'ghost'")
        let utf8 = try generation1With(.scoreMaps) { _, b in b + [0xC3] }
        expectRefusal(utf8, "section 'score-maps'", "UTF-8")
        // A million lines: refused as text, not as a million-entry table.
        let lines = try generation1With(.scoreMaps) { _, b in b + [UInt8](repeating: UInt8(ascii: "\n"), count: 1 << 20) + Array("x\n".utf8) }
        expectRefusal(lines, "score maps", "expected 'map'")
    }

    @Test func modelSourceFaultsAreRefused() throws {
        let name = Examples.generation1.models[0].name
        let format = try generation1With(.modelSources) { _, b in
            var b = b
            b[4 + 4 + name.utf8.count + 4] = UInt8(ascii: "X")
            return b
        }
        expectRefusal(format, "section 'model-sources'", "model '\(name)'", "unknown source format")
        let long = try generation1With(.modelSources) { _, b in
            var b = b
            let at = 4 + 4 + name.utf8.count + 4 + Examples.generation1.models[0].source.format.rawValue.utf8.count
            put(UInt64.max, at: at, in: &b)
            return b
        }
        expectRefusal(long, "section 'model-sources'", "source of '\(name)'")
        let twice = try generation1With(.modelSources) { g, _ in
            var c = g
            c.models.append(c.models[0])
            return c.encodeSources()
        }
        expectRefusal(twice, "section 'model-sources'", "model '\(name)'", "two sources")
        let orphan = try generation1With(.modelSources) { g, _ in
            var c = g
            c.models.append(ModelEntry(name: "orphan", model: c.models[0].model, source: c.models[0].source))
            return c.encodeSources()
        }
        expectRefusal(orphan, "model 'orphan'", "no model")
    }

    @Test func metadataFaultsAreRefused() throws {
        let trailing = try generation1With(.metadata) { _, b in b + [0] }
        expectRefusal(trailing, "section 'metadata'", "1 unexpected bytes")
        let count = try generation1With(.metadata) { _, b in
            var b = b
            put(UInt32(1 << 28), at: 0, in: &b)
            return b
        }
        expectRefusal(count, "section 'metadata'", "entry count 268435456 is more than")
        let utf8 = try generation1With(.metadata) { _, _ in [1, 0, 0, 0, 1, 0, 0, 0, 0xFF, 0, 0, 0, 0] }
        expectRefusal(utf8, "section 'metadata'", "not valid UTF-8")
    }

    // MARK: musectl

    /// `musectl snapshot verify` on the skip-back file, in a process whose
    /// address space is a small multiple of the decoded snapshot: it must
    /// exit non-zero with the reason, not die of an allocation.
    @Test func musectlVerifyRefusesTheSkipBackFileWithinAMemoryLimit() throws {
        let file = try demoWith { b, m in
            let (i, split) = FlatTree(b, m, tree: 0).splits[0]
            var node = split
            node.jump(from: i, to: 0)
            b.setNode(node, at: m.nodeOffset(i))
        }
        let dir = TemporaryDirectory()
        let path = dir.path("skip-back.muse")
        try Data(file).write(to: URL(fileURLWithPath: path))
        let limit = 512 << 20
        #expect(SnapshotSurgery.decodedSize(file) * 64 < limit)
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let musectl = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("musectl").path
        let run = Command.run("/usr/bin/prlimit", ["--as=\(limit)", "--", "/usr/bin/timeout", "60", musectl,
                                                      "snapshot", "verify", "--plain-read", path])
        #expect(run.status != 0 && run.status != 124, "exit \(run.status): \(run.output)")
        #expect(run.output.contains("refused") && run.output.contains("model '\(Self.demoModel)'")
                && run.output.contains("jumps back to node 0"), "\(run.output)")
        #expect(!run.output.contains("Fatal error"), "\(run.output)")
    }
}

extension SnapshotSurgery {
    static func decodedSize(_ file: [UInt8]) -> Int { (try? LZ4Frame.decompress(file).count) ?? 0 }
}

/// A command run to completion: its exit status (or signal number) and all
/// it wrote on standard output and standard error.
enum Command {
    static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        do {
            let (termination, output) = try Subprocess.run(executable, arguments)
            return (termination?.status ?? -1, output)
        } catch {
            return (-1, "\(error)")
        }
    }
}
