import Foundation
import MuseManifest
import MuseScoring
@testable import MuseSnapshot

enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static let fixtures = "Tests/MuseScoringTests/Fixtures/models"
}

/// The example generations, built once per test process (importing the
/// model text is the slow part).
enum Examples {
    static let generation1: SnapshotContents = try! ManifestBuilder(path: Repo.path("examples/generation/manifest.toml")).build()
    static let generation2: SnapshotContents = try! ManifestBuilder(path: Repo.path("examples/generation/manifest-retrained.toml")).build()
}

/// A directory removed when the test ends.
final class TemporaryDirectory {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("muse-snapshot-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Re-wraps a (possibly tampered) container in an LZ4 frame, as a writer would.
func frame(_ container: [UInt8]) throws -> [UInt8] { try LZ4Frame.compress(container) }

/// The sections of `contents` with one replaced, laid out as a container.
func container(_ contents: SnapshotContents, replacing kind: SectionKind, with bytes: [UInt8]) -> [UInt8] {
    let sections = contents.encodedSections().map { $0.0 == kind ? ($0.0, bytes) : $0 }
    return SnapshotContainer.encode(generationID: contents.generationID, createdAt: contents.createdAt, sections: sections)
}

/// Overwrites the header's hash after a test edits the header on purpose,
/// so the edit itself (not the hash) is what the loader meets.
func rehashHeader(_ c: inout [UInt8]) {
    let h = XXH64.hash(Array(c[0..<56]))
    withUnsafeBytes(of: h.littleEndian) { c.replaceSubrange(56..<64, with: $0) }
}

func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + MemoryLayout<T>.size, with: $0) }
}

/// Loading must fail with a `SnapshotError`; returns it.
func refusal(_ bytes: [UInt8], loader: SnapshotLoader = SnapshotLoader(io: .plainRead)) -> SnapshotError? {
    do {
        _ = try loader.load(bytes: bytes)
        return nil
    } catch {
        return error
    }
}

/// Raw and transformed scores of every route for `rows`, as bit patterns.
func scoreBits(_ table: RoutingTable, _ contents: SnapshotContents, rowsPerIntent: Int = 20) -> [UInt64] {
    var out = [UInt64]()
    for r in contents.routes {
        let intent = contents.intents.first { $0.name == r.intent }!
        let t = table.tenantID(r.tenant)!, i = table.intentID(r.intent)!
        for x in Canaries.generatedFeatures(for: intent, count: rowsPerIntent, seed: 99) {
            x.withUnsafeBufferPointer { f in
                if case .scored(let s) = table.score(tenant: t, intent: i, features: f) {
                    out += [s.raw.bitPattern, s.score.bitPattern, UInt64(s.predictor.rawValue)]
                } else {
                    out.append(0xDEAD)
                }
                table.scoreShadows(tenant: t, intent: i, features: f) { s in out += [s.raw.bitPattern, s.score.bitPattern] }
            }
        }
    }
    return out
}
