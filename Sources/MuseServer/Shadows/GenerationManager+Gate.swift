import MuseControl
import MuseCore
import MuseScoring

extension GenerationManager {
    /// The serving generation's shadow records, summed over the workers.
    func shadowRecords() -> (generation: Generation, records: [ShadowKey: ShadowRecord])? {
        guard let generation = current else { return nil }
        var total: [ShadowKey: ShadowRecord] = [:]
        for tally in tenants.workers.map(\.shadows) {
            let (id, records) = tally.snapshot()
            guard id == generation.id.rawValue else { continue }
            for (key, record) in records { total[key, default: ShadowRecord()].merge(record) }
        }
        return (generation, total)
    }

    func shadowInfo() -> [ShadowInfo] {
        guard let (generation, records) = shadowRecords() else { return [] }
        let tenantNames = tenants.currentRoster.names
        return records.sorted { ($0.key.tenant, $0.key.predictor) < ($1.key.tenant, $1.key.predictor) }.map { key, record in
            Self.info(record, tenant: tenantNames[key.tenant], predictor: generation.routing.predictor(key.predictor).name)
        }
    }

    static func info(_ record: ShadowRecord, tenant: String, predictor: String, verdict: String? = nil) -> ShadowInfo {
        ShadowInfo(tenant: tenant, predictor: predictor, events: record.count,
                   mean: record.count > 0 ? record.mean : nil, psi: record.count > 0 ? record.psi : nil,
                   decileShares: record.deciles.map { record.count > 0 ? Double($0) / Double(record.count) : 0 },
                   verdict: verdict)
    }

    /// Judges `candidate` on the live traffic the serving generation shadowed
    /// with the same predictors: for every tenant the candidate routes, its
    /// primary predictor must have shadowed enough events and their
    /// transformed scores must stay within the PSI bound of the reference.
    /// A predictor that already answers the tenant's intent passes: predictor
    /// names identify trained models, so a retrained model gets a new name.
    /// A shadow that served the tenant no map of its own (one `candidate
    /// add` made) tallied raw probabilities; when the candidate maps it and
    /// its level 1 is the shadow's, the candidate's map is judged on this
    /// host's sketch of those scores instead (a `promote -o` file rolled out
    /// from another host).
    /// Returns the figures, and the reason to refuse if any tenant fails.
    func judge(_ candidate: Generation, gate: PromotionGate) -> (figures: [ShadowInfo], refusal: String?) {
        let records = shadowRecords()?.records ?? [:]
        let servingPredictors = current?.routing.predictors.map(\.name) ?? []
        var figures: [ShadowInfo] = [], failures: [String] = []
        for (t, tenant) in tenants.currentRoster.names.enumerated() where !tenant.isEmpty {
            guard let routed = candidate.routing.tenantID(tenant) else { continue }
            // Each primary the candidate would answer with, and whether it
            // already answers every intent it is routed for.
            let current = self.current
            let routedNow = current?.routing.tenantID(tenant)
            var primaries: [String: Bool] = [:]
            // The candidate's map of each primary for this tenant and its decile edges.
            var candidateMaps: [String: (map: QuantileMap, edges: [Double], predictor: PredictorIndex)] = [:]
            for (i, intent) in zip(candidate.routing.intentIDs, candidate.routing.intents) {
                guard let p = candidate.routing.primaryPredictor(tenant: routed, intent: i) else { continue }
                let name = candidate.routing.predictor(p).name
                var unchanged = false
                if let current, let routedNow, let j = current.routing.intentID(intent),
                   let q = current.routing.primaryPredictor(tenant: routedNow, intent: j) {
                    unchanged = current.routing.predictor(q).name == name
                }
                primaries[name] = (primaries[name] ?? true) && unchanged
                if let map = candidate.routing.primaryMap(tenant: routed, intent: i) {
                    candidateMaps[name] = (map, candidate.decileEdges(tenant: tenant, predictor: p), p)
                }
            }
            for (name, unchanged) in primaries.sorted(by: { $0.key < $1.key }) {
                var record = servingPredictors.firstIndex(of: name).flatMap { records[ShadowKey(tenant: t, predictor: PredictorIndex($0))] }
                    ?? ShadowRecord()
                var throughNewMap = false
                if !unchanged, let current, let q = servingPredictors.firstIndex(of: name).map({ PredictorIndex($0) }),
                   !current.mapsScores(tenant: tenant, predictor: q), let new = candidateMaps[name],
                   candidate.routing.levelOneFingerprint(predictor: new.predictor) == current.routing.levelOneFingerprint(predictor: q),
                   let sketch = mergedSketch(tenant: tenant, predictor: name) {
                    // The shadow served no map here: its tally holds raw probabilities. Judge
                    // the candidate's map on this host's sketch of the same scores instead.
                    record = ShadowRecord(sketch: sketch, through: new.map, edges: new.edges)
                    throughNewMap = true
                }
                var verdict: String
                if unchanged {
                    verdict = "pass (already primary)"
                } else if record.count < gate.minimumEvents {
                    verdict = "not enough shadowed events (\(record.count) < \(gate.minimumEvents))"
                } else if !(record.psi <= gate.maximumPSI) {
                    verdict = "PSI \(record.psi) exceeds \(gate.maximumPSI)"
                } else {
                    verdict = throughNewMap ? "pass (this host's sketch through the new map)" : "pass"
                }
                if throughNewMap && !verdict.hasPrefix("pass") { verdict += " (this host's sketch through the new map)" }
                if !verdict.hasPrefix("pass") { failures.append("\(tenant)/\(name): \(verdict)") }
                figures.append(Self.info(record, tenant: tenant, predictor: name, verdict: verdict))
            }
        }
        return (figures, failures.isEmpty ? nil : "the promotion gate refused: " + failures.joined(separator: "; "))
    }
}
