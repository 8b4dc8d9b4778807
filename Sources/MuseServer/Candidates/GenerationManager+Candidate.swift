import Foundation
import MuseControl
import MuseCore
import MuseScoring
import MuseSnapshot

extension GenerationManager {
    /// `musectl candidate add`: publishes the serving generation plus the
    /// model in `spec.modelFile` as a shadow predictor named `spec.name` on
    /// the routes it can serve. mused builds the snapshot itself (no manifest,
    /// no file from the operator but the model), then it goes the way of any
    /// swap: loaded and verified from its bytes (checksums, routing, every
    /// canary), schema-checked, recorded in the state directory, published,
    /// kept as the serving snapshot. Shadows never answer, so every
    /// completion stays what the primary gives, bit for bit.
    ///
    /// Runs under the swap lock, like a swap: one at a time, and nothing the
    /// status, a scrape, a reload or a retirement waits for until the publication.
    /// A refusal at any step publishes nothing and writes nothing.
    public func addCandidate(_ spec: CandidateSpec) throws -> (steps: [ControlResponse.Step], report: CandidateReport) {
        guard let snapshots else { throw DaemonError.noSnapshotSupport }
        guard spec.modelFile.hasPrefix("/") else {
            throw CandidateError("the model file must be named by an absolute path, got '\(spec.modelFile)'")
        }
        let correction = try Self.correction(spec)
        return try swapping.run {
            let resident = resident
            guard let serving = resident.serving else { throw CandidateError("no generation is serving yet") }
            let clock = ContinuousClock()
            var started = clock.now
            let contents = try snapshots.contents(of: serving)
            let readServing = clock.now - started
            started = clock.now
            let model = try Self.importModel(spec, limit: snapshots.loader.maximumContentSize)
            let imported = clock.now - started
            if contents.models.contains(where: { $0.name == spec.name }) || contents.predictors.contains(where: { $0.name == spec.name }) {
                throw CandidateError("the name '\(spec.name)' is already used by the serving generation's "
                                     + (contents.models.contains(where: { $0.name == spec.name }) ? "models" : "predictors")
                                     + "; a new model needs a name of its own")
            }
            let routes = try CandidateRoutes(contents: contents, modelFeatures: model.model.featureNames,
                                             intent: spec.intent, tenants: spec.tenants)
            let id = try derivedGenerationID(from: serving)
            started = clock.now
            let edits: [GenerationEdit] = [
                .addModel(ModelEntry(name: spec.name, model: model.model, correction: correction, source: model.source)),
                .addPredictor(PredictorSpec(name: spec.name, members: [.init(model: spec.name, weight: 1)])),
            ] + routes.shadowed.map { .addShadow($0, predictor: spec.name) }
            let bytes = try Self.derivedSnapshot(contents, of: serving, id: id, edits: edits, command: "candidate add",
                                                 note: MetadataEntry("candidate", "\(spec.name) from \(spec.modelFile)"),
                                                 refused: { CandidateError($0) })
            let built = clock.now - started
            let validated = try validate(.built(bytes, origin: "candidate \(spec.name)"), against: resident,
                                         segments: tenants.currentRoster.segments)
            let steps = [ControlResponse.Step(name: "serving", milliseconds: SnapshotSource.milliseconds(readServing)),
                         ControlResponse.Step(name: "model", milliseconds: SnapshotSource.milliseconds(imported)),
                         ControlResponse.Step(name: "build", milliseconds: SnapshotSource.milliseconds(built))]
                + (try publish(validated))
            Log.info("candidate-added", ["name": spec.name, "generation": id, "routes": routes.shadowed.count])
            let report = CandidateReport(generation: id, name: spec.name, shadowed: routes.shadowed.map(\.description),
                                         leftAlone: routes.leftAlone, snapshot: snapshots.state?.servingSnapshot)
            return (steps, report)
        }
    }

    /// Level 1 as a manifest declares it: a negative sampling rate, or both priors, or neither.
    static func correction(_ spec: CandidateSpec) throws -> CorrectionSetting {
        let setting: CorrectionSetting
        switch (spec.negativeSamplingRate, spec.trainingPrior, spec.servingPrior) {
        case (nil, nil, nil): setting = .identity
        case (let beta?, nil, nil): setting = .negativeSamplingRate(beta)
        case (nil, let t?, let s?): setting = .priors(training: t, serving: s)
        default: throw CandidateError("give either --negative-sampling-rate, or both --training-prior and --serving-prior")
        }
        do { _ = try setting.correction() } catch { throw CandidateError("level 1 (\(setting.description)): \(error)") }
        return setting
    }

    /// The model file read as any input from outside: a regular file only,
    /// opened without blocking, no larger than a snapshot's content may be,
    /// then the importers with their limits; renamed if asked.
    static func importModel(_ spec: CandidateSpec, limit: Int) throws -> (model: SnapshotModel, source: ModelSource) {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(spec.modelFile, limit: limit) } catch { throw CandidateError("\(error)") }
        var model: SnapshotModel
        let format: ModelImporter.Format
        do {
            format = try ModelImporter.detectFormat(bytes)
            model = try SnapshotModel(try ModelImporter.load(bytes))
        } catch {
            throw CandidateError("\(spec.modelFile): \(error)")
        }
        if let names = spec.features {
            var seen = Set<String>()
            for name in names {
                if let why = FeatureName.problem(name) { throw CandidateError("--features: feature '\(name)': \(why)") }
                guard seen.insert(name).inserted else { throw CandidateError("--features: feature '\(name)' is named twice") }
            }
            let original = model.featureNames
            do { model = try model.renamingFeatures(names) } catch {
                throw CandidateError("--features lists \(names.count) names but \(spec.modelFile) has \(original.count) features \(original)")
            }
        }
        return (model, ModelSource(format: format, bytes: bytes))
    }
}
