import MuseControl

/// A generation loaded and verified (checksums, routing, canaries, schema
/// against the serving generation, ids against the resident ones) and
/// checked against every tenant segment, not yet published. Only
/// `GenerationManager.validate` makes one, with no daemon lock held; only
/// `GenerationManager.publish(_:gate:report:)` takes the administration lock,
/// to publish it.
struct ValidatedGeneration: Sendable {
    let prepared: SnapshotSource.Prepared

    var generation: Generation { prepared.generation }
    var steps: [ControlResponse.Step] { prepared.steps }
}
