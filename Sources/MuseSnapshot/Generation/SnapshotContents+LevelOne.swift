import MuseScoring

extension SnapshotContents {
    /// Each predictor's level 1: its members' corrections, in member order
    /// (a single-model predictor has one). A predictor with no members, or
    /// with one naming no model, is left out: the routing table refuses it
    /// by what is wrong with it.
    public func predictorCorrections() throws(SnapshotError) -> [String: [(model: String, correction: PosteriorCorrection)]] {
        var byModel = [String: PosteriorCorrection]()
        for m in models {
            do { byModel[m.name] = try m.correction.correction() } catch {
                throw .invalidModel(m.name, "level-1 setting \(m.correction.description): \(error)")
            }
        }
        var out = [String: [(model: String, correction: PosteriorCorrection)]]()
        for p in predictors where out[p.name] == nil {
            let members = p.members.compactMap { m in byModel[m.model].map { (model: m.model, correction: $0) } }
            if !members.isEmpty && members.count == p.members.count { out[p.name] = members }
        }
        return out
    }

    /// Refuses a map whose recorded level 1 is not its predictor's: the map
    /// was fitted on scores of another scale, and would move every alert
    /// rate it serves. A map recording none (written before `correction`
    /// existed; old snapshots keep loading) is not checked: see
    /// `mapsWithoutCorrection`. The check is the load's, so `build`,
    /// `verify` and a swap all make it.
    public func checkMapCorrections() throws(SnapshotError) {
        let levels = try predictorCorrections()
        for e in scoreMaps.entries {
            guard let members = levels[e.predictor], let recorded = e.recordedCorrection,
                  e.correctionMatches(members.map { $0.correction }) == false else { continue }
            throw .mapCorrectionMismatch(predictor: e.predictor, tenant: e.tenant, recorded: recorded,
                                         serving: Self.describe(members))
        }
    }

    /// The maps whose level 1 could not be checked because they record none.
    public var mapsWithoutCorrection: [ScoreMapFile.Entry] {
        scoreMaps.entries.filter { !$0.recordsCorrection }
    }

    /// A predictor's level 1 for a message: `1.0 (model 'm')`, or a blend's
    /// `0.1 (model 'a'), 1.0 (model 'b')`.
    static func describe(_ members: [(model: String, correction: PosteriorCorrection)]) -> String {
        members.map { "\($0.correction.oddsRatio) (model '\($0.model)')" }.joined(separator: ", ")
    }
}
