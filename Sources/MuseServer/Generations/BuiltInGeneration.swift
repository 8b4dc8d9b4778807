import MuseIPC
import MuseScoring

extension Generation {
    /// The intents of the built-in generation.
    public static let builtInIntents = [
        IntentSchema(name: "card-not-present", id: 1, featureNames: (0..<16).map { "f\($0)" }),
        IntentSchema(name: "card-present", id: 2, featureNames: (0..<8).map { "f\($0)" }),
    ]

    /// The `origin` of the built-in generation.
    public static let builtInOrigin = "built-in"

    /// The check generation: what mused serves tenants of its own (not the
    /// demo's) when no snapshot is given (see `embeddedDefault`). For each built-in intent, a
    /// logistic regression with every coefficient 1 and no intercept (the
    /// score is the logistic of the features' sum, so a client can check each
    /// answer exactly), identity level 1 and no level-2 map, routed for every
    /// tenant. It goes through the same RoutingTable as any generation.
    public static func builtIn(tenants: [String]) throws -> Generation {
        var builder = RoutingTableBuilder()
        for intent in builtInIntents {
            let model = try LogisticModel(featureNames: intent.featureNames,
                                          coefficients: Array(repeating: 1, count: intent.featureCount), intercept: 0)
            try builder.addModel("sum-\(intent.name)", model)
            try builder.addPredictor("sum-\(intent.name)", members: [(model: "sum-\(intent.name)", weight: 1)])
            for tenant in tenants {
                try builder.route(tenant: tenant, intent: intent.name, to: "sum-\(intent.name)")
            }
        }
        return try Generation(id: GenerationID(1), routing: builder.build(), intents: builtInIntents,
                              origin: builtInOrigin)
    }
}
