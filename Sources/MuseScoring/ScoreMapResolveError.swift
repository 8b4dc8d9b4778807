/// Why `ScoreMapFile.resolve` gives no map: each names what was asked for
/// and what the file holds, so a misspelling is plain to see.
public enum ScoreMapResolveError: Error, Equatable, CustomStringConvertible {
    /// No map at all for this predictor; `known` lists the file's predictors.
    case unknownPredictor(String, known: [String])
    /// A tenant with no entry of its own, and the pooled map was not allowed.
    case unknownTenant(String, predictor: String, known: [String])
    /// No tenant named, and the predictor has per-tenant maps to choose from.
    case noTenant(predictor: String, known: [String])
    /// The pooled map is needed but the file has none for the predictor.
    case noPooledMap(predictor: String)
    /// The scores are corrected (level 1) with another odds ratio than the
    /// map's fitting sample was: they are on a different scale.
    case correctionMismatch(predictor: String, tenant: String?, fitted: Double, given: Double)
    /// The map was fitted on a blend's posteriors (each member corrected
    /// with its own odds ratio, `members`), so the scores must be those
    /// posteriors, given no further level 1; these get odds ratio `given`.
    case blendPosteriorExpected(predictor: String, tenant: String?, members: [Double], given: Double)

    public var description: String {
        switch self {
        case .unknownPredictor(let p, let known):
            return "no maps for predictor '\(p)'; the file has maps for predictor\(known.count == 1 ? "" : "s") \(Self.list(known))"
        case .unknownTenant(let t, let p, let known):
            return "no map for tenant '\(t)' of predictor '\(p)'; its tenants are \(Self.list(known))"
        case .noTenant(let p, let known):
            return "no tenant named, and predictor '\(p)' has maps for tenants \(Self.list(known))"
        case .noPooledMap(let p):
            return "predictor '\(p)' has no pooled map ('tenant *')"
        case .correctionMismatch(let p, let t, let fitted, let given):
            return "the map of predictor '\(p)', tenant '\(t ?? "*")' was fitted on scores after posterior correction with odds ratio \(fitted)"
                + "\(fitted == 1 ? " (none)" : ""), but these scores get odds ratio \(given)\(given == 1 ? " (none)" : ""); "
                + "apply with the level-1 setting the map was fitted with"
        case .blendPosteriorExpected(let p, let t, let members, let given):
            return "the map of predictor '\(p)', tenant '\(t ?? "*")' was fitted on a blend's posteriors, its members corrected with odds ratios "
                + "\(members.map { "\($0)" }.joined(separator: ", ")) before averaging, but these scores get odds ratio \(given); "
                + "apply it to the blend's posterior scores (mused's raw score) with no level-1 setting"
        }
    }

    static func list(_ names: [String]) -> String {
        names.isEmpty ? "(none)" : names.joined(separator: ", ")
    }
}
