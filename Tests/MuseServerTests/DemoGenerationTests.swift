import Foundation
import MuseIPC
import MuseManifest
import MuseScoring
import MuseSnapshot
import Testing
@testable import MuseServer

/// The demo generation mused carries in its binary (the embedded default),
/// and the retrained generation tools/demo.sh swaps to.
struct DemoGenerationTests {
    static let root = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = "Tests/MuseScoringTests/Fixtures/models"
    /// Each demo tenant's events: the rows its map is fitted on and its demo client replays.
    static let rows = ["demo-a": "\(fixtures)/deep.lgb.rows.csv", "demo-b": "\(fixtures)/many_shallow.xgb.rows.csv"]
    /// tools/demo.sh's reference threshold: 5.1% of Beta(2,5) lies above it.
    static let threshold = 0.58

    /// As tools/embed-demo-generation.sh builds it (from the package root, so
    /// the manifest's path it records is relative).
    static func snapshot(_ manifest: String) throws -> [UInt8] {
        var builder = try ManifestBuilder(path: root.appending(path: "examples/demo/\(manifest)").path)
        builder.manifestPath = "examples/demo/\(manifest)"
        return try SnapshotWriter.encode(builder.build())
    }

    /// The embedded bytes are what the committed manifest builds today: run
    /// tools/embed-demo-generation.sh when this fails.
    @Test func theEmbeddedSnapshotIsWhatTheDemoManifestBuilds() throws {
        let built = try Self.snapshot("manifest.toml")
        #expect(Generation.embeddedDemoSnapshot.count == built.count && Generation.embeddedDemoSnapshot == built,
                "Sources/MuseServer/Generations/EmbeddedDemoSnapshot.swift is stale: run tools/embed-demo-generation.sh")
    }

    /// Demo tenants get the demo generation (a real model with maps); any
    /// other tenant set gets the check generation, which routes every tenant.
    @Test func theEmbeddedDefaultServesTheDemoTenantsTheDemoGeneration() throws {
        let demo = try Generation.embeddedDefault(tenants: Generation.demoTenants)
        #expect(demo.origin == "embedded demo" && demo.id == GenerationID(1))
        #expect(demo.intents.map(\.name) == ["card-not-present"] && demo.intents[0].id == 1 && demo.intents[0].featureCount == 6)
        #expect(DaemonConfiguration().tenants.map(\.name) == Generation.demoTenants)
        let check = try Generation.embeddedDefault(tenants: ["demo-a", "other"])
        #expect(check.origin == Generation.builtInOrigin)
    }

    /// The retrained generation swaps in without a schema change, and on each
    /// tenant's events it moves the raw score's alert rate at the reference
    /// threshold by a lot while the reference-scale rate stays put.
    @Test func theRetrainedGenerationShiftsRawScoresButNotTheAlertRate() throws {
        let gen1 = try SnapshotLoader().load(bytes: Generation.embeddedDemoSnapshot)
        let gen2 = try SnapshotLoader().load(bytes: Self.snapshot("manifest-retrained.toml"))
        try gen2.verify(against: gen1.intents, allowSchemaChange: false)
        for (tenant, path) in Self.rows {
            let events = try Self.readRows(Self.root.appending(path: path).path)
            func rates(_ snapshot: LoadedSnapshot) -> (score: Double, raw: Double) {
                let table = snapshot.routingTable
                var alerts = 0, rawAlerts = 0
                for event in events {
                    let outcome = event.withUnsafeBufferPointer {
                        table.score(tenant: table.tenantID(tenant)!, intent: table.intentID("card-not-present")!, features: $0)
                    }
                    guard case .scored(let s) = outcome else { Issue.record("\(tenant): \(outcome)"); continue }
                    if s.score >= Self.threshold { alerts += 1 }
                    if s.raw >= Self.threshold { rawAlerts += 1 }
                }
                return (Double(alerts) / Double(events.count), Double(rawAlerts) / Double(events.count))
            }
            let (before, after) = (rates(gen1), rates(gen2))
            #expect(abs(before.score - 0.051) < 0.03 && abs(after.score - 0.051) < 0.03, "\(tenant): \(before) → \(after)")
            #expect(abs(after.score - before.score) < 0.03, "\(tenant): \(before) → \(after)")
            #expect(abs(after.raw - before.raw) > 0.1, "\(tenant): \(before) → \(after)")
        }
    }

    /// A fixture rows file: a header, then one event per line (empty, nan or NaN: missing).
    static func readRows(_ path: String) throws -> [[Double]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map { line in
            line.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) ?? .nan }
        }
    }
}
