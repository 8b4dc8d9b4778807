import MuseIPC
import MuseSnapshot

extension Generation {
    /// The generation a verified snapshot describes.
    public convenience init(snapshot: LoadedSnapshot, origin: String) throws {
        try self.init(id: snapshot.generationID, routing: snapshot.routingTable,
                      intents: snapshot.intents,
                      origin: origin, contentHash: snapshot.contentHash, referenceDeciles: snapshot.referenceDeciles())
    }
}
