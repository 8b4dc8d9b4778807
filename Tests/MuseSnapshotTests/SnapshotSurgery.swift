import Foundation
import MuseManifest
import MuseScoring
@testable import MuseSnapshot

/// A snapshot taken apart into its sections, to edit one as a buggy or
/// hostile writer would and put it back together with every hash (section,
/// table, header) and the LZ4 frame recomputed: what the loader then meets
/// is the edit itself, never a checksum mismatch.
struct SnapshotSurgery {
    var generationID: UInt64
    var createdAt: UInt64
    /// In table order.
    var sections: [(kind: SectionKind, bytes: [UInt8])]

    init(file: [UInt8]) throws {
        let container = try LZ4Frame.decompress(file)
        var header: SnapshotContainer.Header?
        var infos: [SectionInfo] = []
        try container.withUnsafeBytes { c in
            let decoded = try SnapshotContainer.decode(c)
            header = decoded.0
            infos = decoded.1
        }
        generationID = header!.generationID
        createdAt = header!.createdAt
        sections = infos.compactMap { info in
            SectionKind(rawValue: info.kind).map { ($0, Array(container[Int(info.offset)..<Int(info.offset + info.length)])) }
        }
    }

    init(_ contents: SnapshotContents) throws { try self.init(file: try SnapshotWriter.encode(contents)) }

    subscript(kind: SectionKind) -> [UInt8] {
        get { sections.first { $0.kind == kind }!.bytes }
        set { sections[sections.firstIndex { $0.kind == kind }!].bytes = newValue }
    }

    func container() -> [UInt8] {
        SnapshotContainer.encode(generationID: generationID, createdAt: createdAt, sections: sections.map { ($0.kind, $0.bytes) })
    }

    func file() throws -> [UInt8] { try LZ4Frame.compress(container()) }
}

/// Where each model's fields lie in a models section, to edit them in place.
struct ModelsLayout {
    struct Model {
        var name: String
        var kind: UInt8
        var featureCount: Int
        /// Tree ensembles: the four counts (nodes, roots, lanes, words) and each array.
        var countsOffset = 0
        var nodesOffset = 0, nodeCount = 0
        var rootsOffset = 0, rootCount = 0
        var lanesOffset = 0, laneCount = 0
        var wordsOffset = 0, wordCount = 0
        /// Logistic models.
        var coefficientCountOffset = 0, coefficientsOffset = 0, coefficientCount = 0

        var terminalSlot: UInt32 { UInt32(2 * featureCount) }
        func leafSlot(_ tree: Int) -> UInt32 { UInt32(2 * featureCount + 1 + tree) }
        func nodeOffset(_ i: Int) -> Int { nodesOffset + i * MemoryLayout<TreeNode>.stride }
        func rootOffset(_ t: Int) -> Int { rootsOffset + 4 * t }
        func laneOffset(_ k: Int) -> Int { lanesOffset + 4 * k }
    }

    var models: [Model]

    init(_ section: [UInt8]) throws {
        var found: [Model] = []
        try section.withUnsafeBytes { bytes in
            var r = ByteReader(bytes, section: "models")
            for _ in 0..<(try r.count("model", minimumSize: 16)) {
                let name = try r.string("name")
                let kind = try r.u8("kind")
                var m = Model(name: name, kind: kind, featureCount: try r.strings("features").count)
                switch kind {
                case 1:
                    _ = try r.take(1 + 8 + 1 + 8 + 8, "settings")
                    m.countsOffset = r.offset
                    m.nodeCount = Int(try r.u32("nodes")); m.rootCount = Int(try r.u32("roots"))
                    m.laneCount = Int(try r.u32("lanes")); m.wordCount = Int(try r.u32("words"))
                    try r.align(16)
                    m.nodesOffset = r.offset
                    _ = try r.take(m.nodeCount * MemoryLayout<TreeNode>.stride, "nodes")
                    m.rootsOffset = r.offset
                    _ = try r.take(4 * m.rootCount, "roots")
                    m.lanesOffset = r.offset
                    _ = try r.take(4 * m.laneCount, "lanes")
                    m.wordsOffset = r.offset
                    _ = try r.take(4 * m.wordCount, "words")
                    try r.align(16)
                default:
                    _ = try r.f64("intercept")
                    m.coefficientCountOffset = r.offset
                    m.coefficientCount = Int(try r.u32("coefficients"))
                    try r.align(16)
                    m.coefficientsOffset = r.offset
                    _ = try r.take(8 * m.coefficientCount, "coefficients")
                }
                found.append(m)
            }
        }
        models = found
    }

    subscript(name: String) -> Model { models.first { $0.name == name }! }
}

extension Array where Element == UInt8 {
    func node(at offset: Int) -> TreeNode {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: TreeNode.self) }
    }

    mutating func setNode(_ node: TreeNode, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: node, toByteOffset: offset, as: TreeNode.self) }
    }

    func u32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) })
    }
}

extension TreeNode {
    /// Points the node's jump at node `target` (the node itself is `index`).
    mutating func jump(from index: Int, to target: Int) {
        skip = Int32((target - index - 1) * MemoryLayout<TreeNode>.stride)
    }
}

/// One tree of a model as laid out in a models section.
struct FlatTree {
    var nodes: [(index: Int, node: TreeNode)]
    var isLeaf: (TreeNode) -> Bool

    init(_ section: [UInt8], _ m: ModelsLayout.Model, tree t: Int) {
        let first = Int(section.u32(at: m.rootOffset(t)))
        let end = t + 1 < m.rootCount ? Int(section.u32(at: m.rootOffset(t + 1))) : m.nodeCount
        nodes = (first..<end).map { ($0, section.node(at: m.nodeOffset($0))) }
        let terminal = m.terminalSlot
        isLeaf = { !$0.isSlow && $0.slot > terminal }
    }

    var splits: [(index: Int, node: TreeNode)] { nodes.filter { !isLeaf($0.node) } }
    var leaves: [(index: Int, node: TreeNode)] { nodes.filter { isLeaf($0.node) } }
    var root: Int { nodes[0].index }
    var end: Int { nodes.last!.index + 1 }
}

/// The demo generation (examples/demo/manifest.toml), built once per process.
enum DemoGeneration {
    static let contents: SnapshotContents = try! ManifestBuilder(path: Repo.path("examples/demo/manifest.toml")).build()
    static let file: [UInt8] = try! SnapshotWriter.encode(contents)
}
