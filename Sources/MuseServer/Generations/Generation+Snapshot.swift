import MuseIPC
import MuseSnapshot

extension Generation {
    /// The generation a verified snapshot describes.
    public convenience init(snapshot: LoadedSnapshot, origin: String) throws {
        try self.init(id: snapshot.generationID, routing: snapshot.routingTable,
                      intents: snapshot.intents.map {
                          IntentDescriptor(name: $0.name, id: IntentID($0.id), featureNames: $0.featureNames)
                      },
                      origin: origin, contentHash: snapshot.contentHash, referenceDeciles: snapshot.referenceDeciles())
    }

    /// The intents as the snapshot module's schema check takes them.
    var intentSchemas: [IntentSchema] {
        intents.map { IntentSchema(name: $0.name, id: $0.id.rawValue, featureNames: $0.featureNames) }
    }
}
