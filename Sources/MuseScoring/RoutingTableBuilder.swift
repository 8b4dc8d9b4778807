/// Assembles a `RoutingTable` from names, checking every reference once so
/// that the per-event path never meets an unresolved name. Names are looked
/// up by hash, so building stays linear in the number of models, members,
/// routes and shadows (a snapshot chooses them all).
public struct RoutingTableBuilder {
    private var modelNames: [String] = []
    private var modelIndex: [String: Int] = [:]
    private var models: [any ScoringModel] = []
    private var corrections: [PosteriorCorrection] = []
    private var predictorMembers: [(name: String, members: [(model: String, weight: Double)])] = []
    private var predictorNames: Set<String> = []
    private var pooledMaps: [String: QuantileMap] = [:]
    private var tenantMaps: [String: [String: QuantileMap]] = [:]
    private var routes: [(tenant: String, intent: String, primary: String, shadows: [String])] = []
    private var routeKeys: Set<[String]> = []

    public init() {}

    /// Adds a model with its level-1 correction (identity if the model serves
    /// at the prior it was trained at).
    public mutating func addModel(
        _ name: String, _ model: any ScoringModel, correction: PosteriorCorrection = .identity
    ) throws(RoutingError) {
        guard modelIndex.updateValue(modelNames.count, forKey: name) == nil else { throw .duplicate(kind: "model", name: name) }
        modelNames.append(name)
        models.append(model)
        corrections.append(correction)
    }

    /// Adds a predictor averaging the named models with the given weights
    /// (normalized at build); one member with any weight is a plain model.
    public mutating func addPredictor(_ name: String, members: [(model: String, weight: Double)]) throws(RoutingError) {
        guard predictorNames.insert(name).inserted else { throw .duplicate(kind: "predictor", name: name) }
        predictorMembers.append((name, members))
    }

    /// Sets a predictor's level-2 map for one tenant, or its pooled map
    /// (`tenant == nil`), which tenants without their own fall back to.
    public mutating func setMap(_ map: QuantileMap, predictor: String, tenant: String? = nil) {
        if let tenant { tenantMaps[predictor, default: [:]][tenant] = map } else { pooledMaps[predictor] = map }
    }

    /// Routes (tenant, intent) to a predictor, with optional shadow predictors.
    public mutating func route(tenant: String, intent: String, to predictor: String, shadows: [String] = []) throws(RoutingError) {
        guard routeKeys.insert([tenant, intent]).inserted else { throw .duplicate(kind: "route", name: "\(tenant)/\(intent)") }
        routes.append((tenant, intent, predictor, shadows))
    }

    public func build() throws(RoutingError) -> RoutingTable {
        // Each distinct feature list once, so comparing two models' (or two
        // predictors') features is comparing two numbers.
        var schemaIDs: [[String]: Int] = [:]
        var schema: [Int] = []
        for m in models {
            let id = schemaIDs[m.featureNames, default: schemaIDs.count]
            schemaIDs[m.featureNames] = id
            schema.append(id)
        }
        // Predictors: resolve model names, normalize weights, check features.
        var predictors = [Predictor]()
        var predictorIndex: [String: Int] = [:]
        var predictorSchema: [Int] = []
        for (name, members) in predictorMembers {
            guard !members.isEmpty else { throw .invalid("predictor '\(name)' has no models") }
            let total = members.reduce(0.0) { $0 + $1.weight }
            var resolved = [Predictor.Member]()
            for (model, weight) in members {
                guard let m = modelIndex[model] else {
                    throw .unknown(kind: "model", name: model, referencedBy: "predictor '\(name)'")
                }
                guard weight > 0, weight.isFinite, total.isFinite else {
                    throw .invalid("predictor '\(name)': model '\(model)' has weight \(weight); weights must be positive and finite")
                }
                guard schema[m] == schema[resolved.first?.model ?? m] else {
                    throw .invalid("predictor '\(name)': model '\(model)' takes different features from '\(modelNames[resolved[0].model])'")
                }
                resolved.append(.init(model: m, weight: weight / total))
            }
            predictorIndex[name] = predictors.count
            predictorSchema.append(schema[resolved[0].model])
            predictors.append(Predictor(name: name, members: resolved, featureNames: models[resolved[0].model].featureNames))
        }
        for name in Set(pooledMaps.keys).union(tenantMaps.keys) where predictorIndex[name] == nil {
            throw .unknown(kind: "predictor", name: name, referencedBy: "a score map")
        }

        let tenants = Array(Set(routes.map(\.tenant))).sorted()
        let intents = Array(Set(routes.map(\.intent))).sorted()
        let tenantIndex = Dictionary(uniqueKeysWithValues: tenants.enumerated().map { ($1, $0) })
        let intentIndex = Dictionary(uniqueKeysWithValues: intents.enumerated().map { ($1, $0) })
        var maps = [QuantileMap]()
        var pooledIndex = [String: Int32](), ownIndex = [String: Int32]()
        var notes = [String]()
        let empty = RoutingTable.Slot(predictor: -1, map: -1)
        var table = [RoutingTable.Route](
            repeating: .init(primary: empty, shadowStart: 0, shadowCount: 0), count: tenants.count * intents.count)
        var shadowSlots = [RoutingTable.Slot]()
        var intentFeatures = [String: (predictor: String, schema: Int)]()
        var noted = Set<String>()

        func note(_ text: String) { if noted.insert(text).inserted { notes.append(text) } }

        func slot(_ predictor: String, _ tenant: String, _ intent: String) throws(RoutingError) -> RoutingTable.Slot {
            guard let p = predictorIndex[predictor] else {
                throw .unknown(kind: "predictor", name: predictor, referencedBy: "route \(tenant)/\(intent)")
            }
            // An intent has one feature schema, whoever scores it.
            if let seen = intentFeatures[intent], seen.schema != predictorSchema[p] {
                throw .invalid("intent '\(intent)': predictor '\(predictor)' takes different features from '\(seen.predictor)'")
            }
            intentFeatures[intent] = (predictor, predictorSchema[p])
            if let own = tenantMaps[predictor]?[tenant] {
                let key = "\(predictor)\u{0}\(tenant)"
                if ownIndex[key] == nil {
                    maps.append(own)
                    ownIndex[key] = Int32(maps.count - 1)
                }
                return .init(predictor: Int32(p), map: ownIndex[key]!)
            }
            if let pooled = pooledMaps[predictor] {
                note("tenant '\(tenant)' has no map for predictor '\(predictor)': using its pooled map")
                if pooledIndex[predictor] == nil {
                    maps.append(pooled)
                    pooledIndex[predictor] = Int32(maps.count - 1)
                }
                return .init(predictor: Int32(p), map: pooledIndex[predictor]!)
            }
            note("predictor '\(predictor)' has no score map for tenant '\(tenant)': scores are not transformed")
            return .init(predictor: Int32(p), map: -1)
        }

        for r in routes {
            let t = tenantIndex[r.tenant]!, i = intentIndex[r.intent]!
            let primary = try slot(r.primary, r.tenant, r.intent)
            let start = Int32(shadowSlots.count)
            for s in r.shadows { shadowSlots.append(try slot(s, r.tenant, r.intent)) }
            table[t * intents.count + i] = .init(
                primary: primary, shadowStart: start, shadowCount: Int32(r.shadows.count))
        }
        return RoutingTable(
            tenants: tenants, intents: intents, modelNames: modelNames, models: models, corrections: corrections,
            predictors: predictors, maps: maps, routes: table, shadowSlots: shadowSlots, notes: notes)
    }
}

public enum RoutingError: Error, Equatable, CustomStringConvertible {
    case duplicate(kind: String, name: String)
    case unknown(kind: String, name: String, referencedBy: String)
    case invalid(String)

    public var description: String {
        switch self {
        case .duplicate(let kind, let name): return "\(kind) '\(name)' is defined twice"
        case .unknown(let kind, let name, let by): return "\(by) names \(kind) '\(name)', which is not defined"
        case .invalid(let why): return why
        }
    }
}
