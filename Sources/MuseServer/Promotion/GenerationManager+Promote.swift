import Foundation
import MuseControl
import MuseCore
import MuseScoring
import MuseSnapshot

extension GenerationManager {
    /// `musectl promote NAME`: the shadow predictor NAME answers every route
    /// it shadows, with level-2 maps fitted from its sketches of those
    /// routes' tenants (this host's live ones, or `spec.sketchFiles` merged),
    /// and the old primaries stay as shadows. The gate (`PromotionFigures`)
    /// asks that each tenant's sketch estimate its alert rates within the
    /// configured relative error; then the generation goes the way of any
    /// swap: loaded and verified from its bytes (checksums, routing, maps'
    /// level 1, canaries), schema-checked, recorded, published, kept.
    ///
    /// Runs under the swap lock, like a swap. A refusal at any step
    /// publishes nothing and writes nothing.
    public func promote(_ spec: PromoteSpec) throws -> (steps: [ControlResponse.Step], report: PromoteReport) {
        guard let snapshots else { throw DaemonError.noSnapshotSupport }
        let gate = tenants.currentRoster.configuration.promotionGate
        let knots = spec.knots ?? QuantileMapFitter.defaultKnots
        let minimumSamples = spec.minimumSamples ?? Self.promotionMinimumSamples
        guard minimumSamples >= 2 else { throw PromotionError("--min-samples must be at least 2, got \(minimumSamples)") }
        let clock = ContinuousClock()
        // The files are read before the lock is taken: a slow disk delays no swap.
        var started = clock.now
        let files = try Self.readSketchFiles(spec.sketchFiles ?? [], limit: snapshots.loader.maximumContentSize)
        let readFiles = clock.now - started
        return try swapping.run {
            let resident = resident
            guard let serving = resident.serving else { throw PromotionError("no generation is serving yet") }
            started = clock.now
            let contents = try snapshots.contents(of: serving)
            let readServing = clock.now - started
            started = clock.now
            let plan = try PromotionRoutes(contents: contents, name: spec.name)
            let allowThin = Set(spec.allowThin ?? [])
            for t in allowThin.sorted() where !plan.tenants.contains(t) {
                throw PromotionError("--allow-thin \(t): '\(spec.name)' shadows no route of tenant '\(t)' "
                                     + "(it shadows \(plan.tenants.joined(separator: ", ")))")
            }
            let sketches = try sketchesToFit(files, paths: spec.sketchFiles ?? [], name: spec.name, tenants: plan.tenants,
                                             serving: serving)
            let fitter: QuantileMapFitter
            do { fitter = try QuantileMapFitter(reference: plan.reference, knots: knots) } catch {
                throw PromotionError("--knots: \(error)")
            }
            let maps: TenantMaps
            do {
                maps = try TenantMaps.fit(sketches: plan.tenants.map { ($0, sketches[$0] ?? ScoreSketch()) }, fitter: fitter,
                                          minimumSamples: minimumSamples)
            } catch {
                throw PromotionError("no map can be fitted for '\(spec.name)' from \(Self.describe(spec.sketchFiles)): \(error)")
            }
            let fitted = clock.now - started
            let thresholds = Dictionary(tenants.currentRoster.configuration.tenants.map { ($0.name, $0.alertThresholds) },
                                        uniquingKeysWith: { a, _ in a })
            let (tenants, failures) = PromotionFigures.judge(
                maps: maps, events: sketches.mapValues(\.count), thresholds: thresholds, reference: plan.reference,
                maximumRelativeError: gate.maximumRelativeError, allowThin: allowThin)
            var report = PromoteReport(generation: nil, name: spec.name, sketches: Self.describe(spec.sketchFiles),
                                       routes: plan.routes.map { "\($0.key) (was \($0.demoted))" }, tenants: tenants,
                                       maximumRelativeError: gate.maximumRelativeError)
            guard failures.isEmpty else {
                throw PromotionError("the promotion gate refused: " + failures.joined(separator: "; ")
                                     + "; stream more events, or pass --allow-thin TENANT to promote anyway", report: report)
            }
            let id = try derivedGenerationID(from: serving)
            started = clock.now
            let bytes = try Self.derivedSnapshot(
                contents, of: serving, id: id, edits: plan.edits(name: spec.name, maps: maps), command: "promote",
                note: MetadataEntry("promoted", "\(spec.name), maps fitted from \(Self.describe(spec.sketchFiles))"),
                refused: { PromotionError($0) })
            if spec.returnSnapshot == true, bytes.count > PromoteSpec.maximumReturnedSnapshot {
                throw PromotionError("the promoted snapshot is \(bytes.count) bytes, more than the \(PromoteSpec.maximumReturnedSnapshot) "
                                     + "-o can carry back; promote without -o and copy the state directory's serving.snapshot")
            }
            let built = clock.now - started
            let validated = try validate(.built(bytes, origin: "promotion of \(spec.name)"), against: resident,
                                         segments: self.tenants.currentRoster.segments)
            let steps = [ControlResponse.Step(name: "sketches", milliseconds: SnapshotSource.milliseconds(readFiles)),
                         ControlResponse.Step(name: "serving", milliseconds: SnapshotSource.milliseconds(readServing)),
                         ControlResponse.Step(name: "fit", milliseconds: SnapshotSource.milliseconds(fitted)),
                         ControlResponse.Step(name: "build", milliseconds: SnapshotSource.milliseconds(built))]
                + (try publish(validated))
            Log.info("promoted", ["name": spec.name, "generation": id, "routes": plan.routes.count,
                                  "sketches": report.sketches])
            report.generation = id
            report.snapshot = snapshots.state?.servingSnapshot
            if spec.returnSnapshot == true { report.snapshotBytes = Data(bytes).base64EncodedString() }
            return (steps, report)
        }
    }

    /// Fewest events for a tenant's own map, as `transform fit --min-samples` defaults.
    static let promotionMinimumSamples = 1000

    static func describe(_ files: [String]?) -> String {
        guard let files, !files.isEmpty else { return "this host's live sketches" }
        return "sketch files " + files.joined(separator: ", ")
    }

    /// Each file read as outside input (a regular file, opened without
    /// blocking, bounded) and decoded whole; a damaged one is named.
    static func readSketchFiles(_ paths: [String], limit: Int) throws -> [SketchFile] {
        try paths.map { path in
            guard path.hasPrefix("/") else { throw PromotionError("a sketch file must be named by an absolute path, got '\(path)'") }
            let bytes: [UInt8]
            do { bytes = try RegularFile.read(path, limit: limit) } catch { throw PromotionError("sketch file \(path): \(error)") }
            do { return try SketchFile(decoding: bytes) } catch { throw PromotionError("sketch file \(path): \(error)") }
        }
    }

    /// NAME's sketch per tenant: from the files merged (counts add), which
    /// must be of the level 1 NAME has in the serving generation; else this
    /// host's live sketches. The live ones are not added to files: a file
    /// may be this host's own export, and its events would count twice.
    func sketchesToFit(_ files: [SketchFile], paths: [String], name: String, tenants: [String],
                       serving: Generation) throws -> [String: ScoreSketch] {
        guard !files.isEmpty else {
            var out = [String: ScoreSketch]()
            for t in tenants { if let s = mergedSketch(tenant: t, predictor: name) { out[t] = s } }
            return out
        }
        guard let p = serving.routing.predictorIndex(named: name) else {
            throw PromotionError("predictor '\(name)' is not in the serving generation")
        }
        let fingerprint = serving.routing.levelOneFingerprint(predictor: p)
        let wanted = Set(tenants)
        var out = [String: ScoreSketch]()
        for (file, path) in zip(files, paths) {
            for e in file.entries where e.predictor == name && wanted.contains(e.tenant) {
                guard e.fingerprint == fingerprint else {
                    throw PromotionError("sketch file \(path): tenant \(e.tenant)'s sketch of '\(name)' is of level 1 "
                        + "\(String(e.fingerprint, radix: 16)), not the serving '\(name)''s \(String(fingerprint, radix: 16)): "
                        + "it was recorded for another model or correction under that name")
                }
                out[e.tenant, default: ScoreSketch()].merge(e.sketch)
            }
        }
        return out
    }
}
