import MuseSnapshot

/// Which routes of a generation a candidate model can shadow: those whose
/// intent sends exactly the features the model takes, by name and in the
/// model's order (a predictor receives the intent's feature vector as is).
/// `intent` and `tenants` narrow the choice; a route the model cannot serve
/// is left alone with the reason, and no route at all is a refusal naming
/// why each intent did not qualify.
struct CandidateRoutes: Equatable {
    var shadowed: [RouteKey]
    /// "tenant/intent: reason" for each route considered and not shadowed.
    var leftAlone: [String]

    init(contents: SnapshotContents, modelFeatures: [String], intent: String?, tenants: [String]?) throws(CandidateError) {
        if let intent, !contents.intents.contains(where: { $0.name == intent }) {
            let known = contents.intents.map(\.name).sorted().joined(separator: ", ")
            throw CandidateError("--intent \(intent): the serving generation has no such intent (it has \(known))")
        }
        if let tenants {
            for t in tenants where !contents.routes.contains(where: { $0.tenant == t && (intent == nil || $0.intent == intent) }) {
                throw CandidateError("--tenants \(t): the serving generation routes no " + (intent.map { "\($0) events" } ?? "events")
                                     + " for tenant '\(t)'")
            }
        }
        let considered = contents.routes.filter { r in
            (intent == nil || r.intent == intent) && (tenants.map { $0.contains(r.tenant) } ?? true)
        }
        var shadowed: [RouteKey] = [], leftAlone: [String] = [], why: [String: String] = [:]
        for route in considered {
            let key = RouteKey(tenant: route.tenant, intent: route.intent)
            guard let schema = contents.intents.first(where: { $0.name == route.intent }) else { continue }
            if let reason = Self.mismatch(model: modelFeatures, intent: schema.featureNames) {
                why[route.intent] = reason
                leftAlone.append("\(key): \(reason)")
            } else {
                shadowed.append(key)
            }
        }
        guard !shadowed.isEmpty else {
            let reasons = why.keys.sorted().map { "intent \($0): \(why[$0]!)" }
            throw CandidateError("no route can shadow the model" + (reasons.isEmpty ? " (none was selected)" : ": " + reasons.joined(separator: "; ")))
        }
        self.shadowed = shadowed
        self.leftAlone = leftAlone
    }

    /// Nil when the intent sends what the model takes; else why not.
    static func mismatch(model: [String], intent: [String]) -> String? {
        if model == intent { return nil }
        let modelSet = Set(model), intentSet = Set(intent)
        let missing = intent.filter { !modelSet.contains($0) }, extra = model.filter { !intentSet.contains($0) }
        if !missing.isEmpty || !extra.isEmpty {
            return [missing.isEmpty ? nil : "the model lacks \(list(missing)), which the intent sends",
                    extra.isEmpty ? nil : "the model needs \(list(extra)), which the intent does not send"]
                .compactMap { $0 }.joined(separator: "; ")
        }
        return "the model takes the intent's features in another order (\(list(model))), and a predictor receives the intent's features in the intent's order"
    }

    private static func list(_ names: [String]) -> String {
        names.count <= 8 ? names.joined(separator: ", ") : names.prefix(8).joined(separator: ", ") + " and \(names.count - 8) more"
    }
}

/// Why a candidate is refused, in words an operator can act on.
public struct CandidateError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
