import MuseScoring
import MuseSnapshot

extension GenerationManager {
    /// The merged live sketch of `tenant`'s scores by the predictor named
    /// `predictor` in the serving generation (its level 1 as served now);
    /// nil if the serving generation has no such predictor or nothing was
    /// counted for it. What `promote` fits a candidate's map from.
    public func mergedSketch(tenant: String, predictor: String) -> ScoreSketch? {
        guard let routing = current?.routing,
              let p = routing.predictorIndex(named: predictor) else { return nil }
        let key = SketchKey(tenant: tenant, predictor: predictor, fingerprint: routing.levelOneFingerprint(predictor: p),
                            oddsRatio: routing.levelOneOddsRatio(predictor: p))
        var total: ScoreSketch?
        for worker in tenants.workers {
            for (cell, _) in worker.sketches.all where cell.key == key {
                if total == nil { total = ScoreSketch() }
                total?.merge(cell.read())
            }
        }
        return total
    }
}
