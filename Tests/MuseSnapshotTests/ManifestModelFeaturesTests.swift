import Foundation
import Testing
import MuseManifest
import MuseScoring
@testable import MuseSnapshot

/// `features` on a model entry serves a model trained on a bare array
/// (XGBoost's names f0, f1, ...) under an intent's real feature names.
@Suite struct ManifestModelFeaturesTests {
    static let names = ["amount", "merchant_age", "hour", "velocity"]

    func write(_ dir: TemporaryDirectory, features: String?) throws -> String {
        let model = Repo.path("\(Repo.fixtures)/numpy_ubj.xgb.ubj")
        let text = """
            generation = 3
            created_at = 1764000000

            [models.m]
            file = "\(model)"
            \(features.map { "features = [\($0)]" } ?? "")

            [predictors.p]
            models = ["m"]

            [intents.payment]
            id = 9
            features = ["amount", "merchant_age", "hour", "velocity"]

            [[routes]]
            tenant = "t1"
            intent = "payment"
            predictor = "p"
            """
        let path = dir.path("manifest.toml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func renamedFeaturesRouteAndScoreAsTheModel() throws {
        let dir = TemporaryDirectory()
        let path = try write(dir, features: Self.names.map { "\"\($0)\"" }.joined(separator: ", "))
        let contents = try ManifestBuilder(path: path).build()
        #expect(contents.models[0].model.featureNames == Self.names)
        let loaded = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(contents))
        #expect(loaded.intent(id: 9)?.featureNames == Self.names)
        // Canaries were scored through the renamed model: the original scores them the same.
        let original = try ModelImporter.load(Array(try Data(contentsOf: URL(fileURLWithPath: Repo.path("\(Repo.fixtures)/numpy_ubj.xgb.ubj")))))
        #expect(original.featureNames == ["f0", "f1", "f2", "f3"])
        #expect(!contents.canaries.isEmpty)
        for c in contents.canaries {
            #expect(c.expected[0].raw.bitPattern == (try original.checkedProbability(c.features)).bitPattern)
        }
    }

    @Test func withoutFeaturesTheRouteIsRefused() throws {
        let dir = TemporaryDirectory()
        let path = try write(dir, features: nil)
        #expect { _ = try ManifestBuilder(path: path).build() } throws: { "\($0)".contains("routes[0].predictor") }
    }

    @Test(arguments: [
        (#""amount", "merchant_age", "hour""#, "lists 3 names but"),
        (#""amount", "merchant_age", "hour", "velocity", "extra""#, "lists 5 names but"),
        (#""amount", "amount", "hour", "velocity""#, "named twice"),
        (#""amount", "", "hour", "velocity""#, "feature 1: a feature name must be"),
        ("", "list the model's features"),
        (#""amount", 2, "hour", "velocity""#, "must be an array of strings"),
    ])
    func badFeatureListsAreRefusedWithLineAndKey(_ value: String, _ message: String) throws {
        let dir = TemporaryDirectory()
        let path = try write(dir, features: value)
        let line = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("features = [") }! + 1
        #expect { _ = try ManifestBuilder(path: path).build() } throws: {
            let d = "\($0)"
            return d.hasPrefix("\(path):\(line): key 'models.m.features': ") && d.contains(message)
        }
    }
}
