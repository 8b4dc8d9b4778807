import Foundation
import Testing
@testable import MuseScoring

/// MUSE's claim (arXiv 2602.11776): with per-tenant quantile maps onto a fixed
/// reference, a threshold set once on the reference scale keeps each tenant's
/// alert rate when the model is replaced, although the raw scores move a lot.
/// Fixture: tools/fixtures/make_muse_claim.py (an old logistic regression
/// trained on subsampled period-1 data, a new LightGBM trained on drifted
/// period-2 data; both scoring the same events of three tenants).
@Suite("MUSE claim: thresholds survive a model update", .serialized)
struct MuseClaimTests {
    struct Split { var labels: [Bool] = [], old: [Double] = [], new: [Double] = [] }
    struct Fixture {
        var beta = 1.0
        var tenants: [String] = []
        var cal: [String: Split] = [:], eval: [String: Split] = [:]
    }

    static func load() throws -> Fixture {
        var f = Fixture()
        var tenant = "", split = ""
        for line in try ScoreMapFixtures.text("muse_claim.txt").split(separator: "\n") {
            let w = line.split(separator: " ")
            if w.first == "#" {
                if w.count == 3, w[1] == "old_negative_sampling_rate" { f.beta = Double(w[2])! }
            } else if w.first == "@" {
                tenant = String(w[1]); split = String(w[2])
                if !f.tenants.contains(tenant) { f.tenants.append(tenant) }
            } else {
                let (label, old, new) = (w[0] == "1", Double(w[1])!, Double(w[2])!)
                func add(_ s: inout Split) { s.labels.append(label); s.old.append(old); s.new.append(new) }
                if split == "cal" { add(&f.cal[tenant, default: Split()]) } else { add(&f.eval[tenant, default: Split()]) }
            }
        }
        return f
    }

    static func rate(_ scores: [Double], atOrAbove t: Double) -> Double {
        Double(scores.filter { $0 >= t }.count) / Double(scores.count)
    }

    static func pct(_ x: Double) -> String { String(format: "%5.2f%%", 100 * x) }

    @Test(arguments: ["uniform", "beta 1 9"])
    func alertRatesSurviveModelUpdate(referenceName: String) throws {
        let f = try Self.load()
        #expect(f.tenants.count == 3 && f.beta < 1)
        let reference: ReferenceDistribution = referenceName == "uniform" ? .uniform : try .beta(1, 9)
        let knots = 1001
        let fitter = try QuantileMapFitter(reference: reference, knots: knots)
        // Level 1: the old model was trained with negatives kept at rate β.
        let oldCorrection = try PosteriorCorrection(negativeSamplingRate: f.beta)
        let old = { (s: [Double]) in s.map(oldCorrection.apply) }

        // Level 2: per-tenant maps, fitted on each tenant's calibration scores.
        let oldMaps = try TenantMaps.fit(samples: f.tenants.map { ($0, old(f.cal[$0]!.old)) }, fitter: fitter, minimumSamples: 500)
        let newMaps = try TenantMaps.fit(samples: f.tenants.map { ($0, f.cal[$0]!.new) }, fitter: fitter, minimumSamples: 500)

        print("MUSE claim, reference \(reference.name), \(knots) knots; alert rates on each tenant's evaluation sample:")
        print("tenant    target  | mapped old  new    Δ      tol   | raw thr  old    new    | AUC old raw/mapped  new raw/mapped")
        for (i, tenant) in f.tenants.enumerated() {
            let cal = f.cal[tenant]!, ev = f.eval[tenant]!
            #expect(oldMaps.entries[i].origin == .ownSample(count: cal.old.count))
            let oldMap = oldMaps.entries[i].map, newMap = newMaps.entries[i].map
            let oldRaw = old(ev.old), newRaw = ev.new
            let oldRef = oldRaw.map(oldMap.apply), newRef = newRaw.map(newMap.apply)

            // Ranking (so AUC) is the model's, except for the few evaluation
            // scores beyond the calibration range, which clamp to the ends.
            for (raw, ref, map) in [(oldRaw, oldRef, oldMap), (newRaw, newRef, newMap)] {
                let clamped = raw.filter { $0 <= map.scores.first! || $0 >= map.scores.last! }.count
                let delta = abs(auc(scores: raw, labels: ev.labels) - auc(scores: ref, labels: ev.labels))
                #expect(delta <= Double(clamped) / Double(raw.count), "\(tenant): AUC moved by \(delta)")
            }

            for target in [0.05, 0.01] {
                let threshold = reference.quantile(1 - target)  // set once, on the reference scale
                let rOld = Self.rate(oldRef, atOrAbove: threshold), rNew = Self.rate(newRef, atOrAbove: threshold)
                // Each rate estimates `target` with the error of a calibration
                // quantile and of an evaluation proportion:
                // σ = √(q(1 − q)(1/n_cal + 1/n_eval)); the difference of two
                // such estimates is within 3·√2·σ, plus one level step of each
                // map's knots (1/(k − 1)).
                let sigma = (target * (1 - target) * (1 / Double(cal.old.count) + 1 / Double(ev.old.count))).squareRoot()
                let step = 1 / Double(knots - 1)
                let tolerance = 3 * 2.0.squareRoot() * sigma + 2 * step
                #expect(abs(rNew - rOld) <= tolerance, "\(tenant) at \(target): \(rOld) → \(rNew)")
                #expect(abs(rOld - target) <= 3 * sigma + step && abs(rNew - target) <= 3 * sigma + step)

                // The tenant's alternative without maps: a threshold on the
                // (posterior-corrected) probability, tuned on the old model's
                // calibration scores to the same target, kept after the update.
                let rawThreshold = old(cal.old).sorted()[Int(Double(cal.old.count) * (1 - target))]
                let rawOld = Self.rate(oldRaw, atOrAbove: rawThreshold), rawNew = Self.rate(newRaw, atOrAbove: rawThreshold)
                // "Differ widely": at least a factor of 2 apart (the data's
                // property, checked so the fixture keeps showing the effect).
                #expect(max(rawOld, rawNew) >= 2 * min(rawOld, rawNew),
                        "\(tenant): raw rates \(rawOld) → \(rawNew) too close to show the effect")
                print("\(tenant.padding(toLength: 9, withPad: " ", startingAt: 0)) \(Self.pct(target)) | "
                      + "\(Self.pct(rOld)) \(Self.pct(rNew)) \(String(format: "%+5.2f", 100 * (rNew - rOld))) "
                      + "\(String(format: "%5.2f", 100 * tolerance)) | \(String(format: "%.4f", rawThreshold)) "
                      + "\(Self.pct(rawOld)) \(Self.pct(rawNew)) | "
                      + String(format: "%.4f/%.4f  %.4f/%.4f",
                               auc(scores: oldRaw, labels: ev.labels), auc(scores: oldRef, labels: ev.labels),
                               auc(scores: newRaw, labels: ev.labels), auc(scores: newRef, labels: ev.labels)))
            }
        }
    }
}
