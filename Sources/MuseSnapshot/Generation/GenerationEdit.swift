import MuseScoring

/// One change to a generation, applied by `SnapshotContents.edited`: the
/// steps MUSE's loop takes between two generations without a manifest
/// (a candidate shadowed on live traffic, then promoted). Everything an
/// edit does not name stays as it was, byte for byte.
public enum GenerationEdit: Sendable {
    /// A model with its level-1 setting and source text; its name must be new.
    case addModel(ModelEntry)
    /// A predictor over models already defined (or added before it); its name must be new.
    case addPredictor(PredictorSpec)
    /// `predictor` scored beside the route's primary, after its other shadows.
    case addShadow(RouteKey, predictor: String)
    /// The route stops scoring `predictor` as a shadow.
    case removeShadow(RouteKey, predictor: String)
    /// `predictor` answers the route; the old primary is dropped from it
    /// (add it back as a shadow to keep watching it).
    case setPrimary(RouteKey, predictor: String)
    /// `predictor`'s level-2 map for `tenant` (nil: its pooled map) becomes
    /// `entry`, replacing the one there was.
    case setMap(predictor: String, tenant: String?, entry: ScoreMapFile.Entry)
    /// Sets a metadata key (replacing its value, else appended).
    case setMetadata(MetadataEntry)
}

/// A route by its (tenant, intent) pair, as routes and canaries name it.
public struct RouteKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var tenant: String
    public var intent: String
    public init(tenant: String, intent: String) { self.tenant = tenant; self.intent = intent }
    public static func < (a: RouteKey, b: RouteKey) -> Bool { (a.tenant, a.intent) < (b.tenant, b.intent) }
    public var description: String { "\(tenant)/\(intent)" }
}
