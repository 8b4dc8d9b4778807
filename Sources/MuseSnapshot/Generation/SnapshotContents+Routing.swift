import MuseCore
import MuseScoring

extension SnapshotContents {
    /// Builds the serving `RoutingTable`, after checking what the builder
    /// cannot know: that intents are well formed and that every route's
    /// predictors take exactly its intent's features, in order. Names are
    /// looked up by hash and each (intent, predictor) pair is checked once,
    /// so the work stays linear in the snapshot however its routes, shadows
    /// and members multiply.
    public func routingTable() throws(SnapshotError) -> RoutingTable {
        try checkIntents()
        try checkMapCorrections()
        let intentsByName = Dictionary(intents.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let predictorsByName = Dictionary(predictors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let modelsByName = Dictionary(models.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        struct Pair: Hashable { let intent: String, predictor: String }
        var checked = Set<Pair>()
        var b = RoutingTableBuilder()
        do {
            for m in models {
                let correction: PosteriorCorrection
                do { correction = try m.correction.correction() } catch {
                    throw SnapshotError.invalidModel(m.name, "level-1 setting \(m.correction.description): \(error)")
                }
                try b.addModel(m.name, m.model.scoringModel, correction: correction)
            }
            for p in predictors { try b.addPredictor(p.name, members: p.members.map { ($0.model, $0.weight) }) }
            for e in scoreMaps.entries {
                guard case .map(let map) = e.content else { continue }
                guard predictorsByName[e.predictor] != nil else {
                    throw SnapshotError.invalidScoreMaps("a map is for predictor '\(e.predictor)', which is not defined")
                }
                b.setMap(map, predictor: e.predictor, tenant: e.tenant)
            }
            for r in routes {
                // mused makes a segment file of the name: a route to a name
                // it would refuse (or that escapes its directory) is refused here.
                do { try TenantName.validate(r.tenant) } catch {
                    throw SnapshotError.invalidRouting("route \(r.tenant)/\(r.intent): \(error)")
                }
                guard let intent = intentsByName[r.intent] else {
                    throw SnapshotError.invalidRouting("route \(r.tenant)/\(r.intent) names intent '\(r.intent)', which is not defined")
                }
                for p in [r.predictor] + r.shadows {
                    guard let spec = predictorsByName[p] else {
                        throw SnapshotError.invalidRouting("route \(r.tenant)/\(r.intent) names predictor '\(p)', which is not defined")
                    }
                    guard checked.insert(Pair(intent: r.intent, predictor: p)).inserted else { continue }
                    for m in spec.members {
                        guard let model = modelsByName[m.model] else { continue }  // the builder names it
                        guard model.model.featureNames == intent.featureNames else {
                            throw SnapshotError.invalidRouting(
                                "route \(r.tenant)/\(r.intent): predictor '\(p)' (model '\(m.model)') takes features \(model.model.featureNames), but the intent declares \(intent.featureNames)")
                        }
                    }
                }
                try b.route(tenant: r.tenant, intent: r.intent, to: r.predictor, shadows: r.shadows)
            }
            return try b.build()
        } catch let e as SnapshotError {
            throw e
        } catch let e as RoutingError {
            throw .invalidRouting(e.description)
        } catch {
            throw .invalidRouting("\(error)")
        }
    }

    func checkIntents() throws(SnapshotError) {
        guard intents.count <= IntentSchema.maximumCount else {
            throw .invalidRouting("\(intents.count) intents; muse.h's intent table holds \(IntentSchema.maximumCount)")
        }
        var names = Set<String>(), ids = Set<IntentID>()
        for i in intents {
            if let why = IntentName.problem(i.name) { throw .invalidIntent(i.name, why) }
            guard i.id.rawValue <= IntentName.maxID else { throw .invalidIntent(i.name, "id \(i.id) is over mused's largest, \(IntentName.maxID)") }
            guard names.insert(i.name).inserted else { throw .invalidIntent(i.name, "is defined twice") }
            guard ids.insert(i.id).inserted else { throw .invalidIntent(i.name, "id \(i.id) is used by another intent") }
            guard !i.featureNames.isEmpty else { throw .invalidIntent(i.name, "has no features") }
            guard Set(i.featureNames).count == i.featureNames.count else { throw .invalidIntent(i.name, "names a feature twice") }
            for f in i.featureNames {
                if let why = FeatureName.problem(f) { throw .invalidIntent(i.name, "feature '\(f)': \(why)") }
            }
        }
    }
}
