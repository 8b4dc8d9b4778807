import Foundation

/// The committed seed inputs of the fuzz loop, one directory per target under
/// Fixtures/fuzz-corpus: small valid files cut from the model fixtures, plus
/// `regression-*` files, inputs that once crashed an importer.
enum FuzzCorpus {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fuzz-corpus")

    struct Seed {
        let name: String
        let bytes: [UInt8]
        var isRegression: Bool { name.hasPrefix("regression-") }
    }

    /// The seeds of one target's directory, sorted by name so a run is
    /// reproducible from its seed alone.
    static func seeds(_ target: String) throws -> [Seed] {
        let dir = directory.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        return try names.map { Seed(name: $0, bytes: Array(try Data(contentsOf: dir.appendingPathComponent($0)))) }
    }
}
