import Foundation
import MuseSnapshot

extension Generation {
    /// The tenants of the embedded default configuration, which the demo
    /// generation serves.
    public static let demoTenants = ["demo-a", "demo-b"]

    /// The demo generation's snapshot file as mused carries it: built from
    /// `examples/demo/manifest.toml` (a LightGBM model of 300 trees, its
    /// posterior correction and a quantile map per demo tenant) by
    /// `tools/embed-demo-generation.sh`, so mused installed alone still has it.
    public static var embeddedDemoSnapshot: [UInt8] {
        [UInt8](Data(base64Encoded: embeddedDemoSnapshotBase64, options: .ignoreUnknownCharacters) ?? Data())
    }

    /// The demo generation, loaded and verified (canaries included) like any
    /// snapshot file.
    public static func demo() throws -> Generation {
        let snapshot = try SnapshotLoader().load(bytes: embeddedDemoSnapshot)
        return try Generation(snapshot: snapshot, origin: embeddedDemoOrigin)
    }

    /// The `origin` of the demo generation.
    public static let embeddedDemoOrigin = "embedded demo"

    /// What mused serves when neither its state directory nor its
    /// configuration names a snapshot: the demo generation when it routes
    /// every configured tenant (the embedded default configuration serves
    /// exactly `demoTenants`), else the built-in check generation, which
    /// routes any tenant.
    public static func embeddedDefault(tenants: [String]) throws -> Generation {
        Set(tenants).isSubset(of: demoTenants) ? try demo() : try builtIn(tenants: tenants)
    }
}
