import MuseIPC
import MuseScoring

/// A model generation: models, both levels of the score transformation,
/// predictors and routes (the `RoutingTable`), and the intents clients submit,
/// each with its muse.h id and feature schema. Immutable once built; shared by
/// every worker that serves it.
public final class Generation: Sendable {
    public let id: GenerationID
    public let routing: RoutingTable
    /// The intents as segments show them (name, muse.h id, feature names).
    public let intents: [IntentSchema]
    /// Where it came from, for logs and status: a snapshot path, or "built-in".
    public let origin: String
    /// The snapshot's content hash; nil for a generation built in code.
    public let contentHash: UInt64?
    let bounds: IntentBounds
    /// The reference distribution's decile edges, by predictor index and
    /// tenant name, for the maps a snapshot names; uniform otherwise.
    private let referenceDeciles: [Int: [String: [Double]]]
    public static let uniformDeciles = (1...9).map { Double($0) / 10 }
    /// muse.h intent id → the routing table's intent id, dense; `.unrouted`: none.
    private let routingIntents: [RoutedIntent]

    public init(id: GenerationID, routing: RoutingTable, intents: [IntentSchema], origin: String,
                contentHash: UInt64? = nil, referenceDeciles: [Int: [String: [Double]]] = [:]) throws {
        guard id != .none else { throw GenerationError.invalid("generation id 0 is reserved for 'none'") }
        var seenNames = Set<String>(), seenIDs = Set<IntentID>()
        for intent in intents {
            guard seenNames.insert(intent.name).inserted, seenIDs.insert(intent.id).inserted else {
                throw GenerationError.invalid("intent '\(intent.name)' (id \(intent.id)) is declared twice")
            }
            guard Int(intent.id) <= IntentBounds.maxIntentID else {
                throw GenerationError.invalid("intent '\(intent.name)' has id \(intent.id); ids are 0...\(IntentBounds.maxIntentID)")
            }
        }
        self.id = id
        self.routing = routing
        self.intents = intents
        self.origin = origin
        self.contentHash = contentHash
        self.referenceDeciles = referenceDeciles
        bounds = IntentBounds(intents)
        var table = [RoutedIntent](repeating: .unrouted, count: (intents.map { Int($0.id) }.max() ?? 0) + 1)
        for intent in intents {
            table[Int(intent.id)] = routing.intentID(intent.name) ?? .unrouted
        }
        routingIntents = table
    }

    /// Where the reference distribution's deciles lie for `tenant`'s map of
    /// `predictor` (routing index): what its transformed scores should follow.
    func decileEdges(tenant: String, predictor: PredictorIndex) -> [Double] {
        referenceDeciles[predictor.rawValue]?[tenant] ?? Self.uniformDeciles
    }

    /// Whether `predictor` (routing index) maps `tenant`'s scores onto the
    /// reference (else its transformed scores are its level 1).
    func mapsScores(tenant: String, predictor: PredictorIndex) -> Bool {
        referenceDeciles[predictor.rawValue]?[tenant] != nil
    }

    /// The routing table's id for a muse.h intent id; `.unrouted` if it routes none.
    @inline(__always)
    func routingIntent(_ intent: IntentID) -> RoutedIntent {
        let i = Int(intent.rawValue)
        return i < routingIntents.count ? routingIntents[i] : .unrouted
    }
}

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let reason): "invalid generation: \(reason)"
        }
    }
}
