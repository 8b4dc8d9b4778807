import MuseIPC

/// What a worker hands its channels' drain: the published `Serving` plus the
/// worker's own shadow tally, so shadow scores are recorded without sharing.
struct WorkerScorer: EventScorer {
    let serving: Serving
    let tally: ShadowTally

    var generationID: GenerationID { serving.generationID }

    @inline(__always)
    func featureCount(tenant: TenantIndex, intent: IntentID) -> Int? {
        serving.featureCount(tenant: tenant, intent: intent)
    }

    @inline(__always)
    func score(tenant: TenantIndex, intent: IntentID, features: UnsafeBufferPointer<Double>) -> Verdict {
        serving.score(tenant: tenant, intent: intent, features: features)
    }

    @inline(__always)
    func hasShadows(tenant: TenantIndex) -> Bool { serving.hasShadows(tenant: tenant) }

    func scoreShadows(tenant: TenantIndex, intent: IntentID, features: UnsafeBufferPointer<Double>) {
        serving.scoreShadows(tenant: tenant, intent: intent, features: features, into: tally)
    }
}
