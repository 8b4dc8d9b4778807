import Foundation
import MuseScoring
import MuseSnapshot

/// Turns a manifest into `SnapshotContents`: imports each model file once
/// (the slow, text-parsing step a snapshot saves every later load), reads or
/// fits the score maps, builds the routing table to check that everything
/// resolves, and scores the canaries to record their results.
public struct ManifestBuilder {
    public let manifest: GenerationManifest
    /// The manifest's directory: paths in it are relative to this.
    public let baseDirectory: URL
    /// Recorded in the snapshot's metadata.
    public var manifestPath: String

    public init(manifest: GenerationManifest, baseDirectory: URL, manifestPath: String = "") {
        self.manifest = manifest
        self.baseDirectory = baseDirectory
        self.manifestPath = manifestPath
    }

    /// Reads and parses the manifest at `path`.
    public init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: path) else { throw ManifestError("cannot read \(path)") }
        self.init(manifest: try GenerationManifest.parse(String(decoding: data, as: UTF8.self), file: path),
                  baseDirectory: url.deletingLastPathComponent(), manifestPath: path)
    }

    func read(_ relative: String, for what: String) throws -> [UInt8] {
        let url = relative.hasPrefix("/") ? URL(fileURLWithPath: relative) : baseDirectory.appendingPathComponent(relative)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ManifestError("\(what): cannot read \(relative) (resolved to \(url.path))")
        }
        return Array(data)
    }

    /// Everything in the manifest, checked, with canaries scored.
    public func build() throws -> SnapshotContents {
        let m = manifest
        var models = [ModelEntry]()
        for name in m.models.keys.sorted() {
            let spec = m.models[name]!
            let bytes = try read(spec.file, for: "model '\(name)'")
            let format: ModelImporter.Format
            let loaded: any ScoringModel
            do {
                format = try ModelImporter.detectFormat(bytes)
                loaded = try ModelImporter.load(bytes)
            } catch {
                throw ManifestError("model '\(name)' (\(spec.file)): \(error)")
            }
            let setting: CorrectionSetting
            switch (spec.negativeSamplingRate, spec.trainingPrior, spec.servingPrior) {
            case (nil, nil, nil): setting = .identity
            case (let beta?, nil, nil): setting = .negativeSamplingRate(beta)
            case (nil, let t?, let s?): setting = .priors(training: t, serving: s)
            default:
                throw ManifestError("model '\(name)': give either negative_sampling_rate, or both training_prior and serving_prior")
            }
            do { _ = try setting.correction() } catch { throw ManifestError("model '\(name)': \(error)") }
            models.append(ModelEntry(name: name, model: try SnapshotModel(loaded), correction: setting,
                                     source: ModelSource(format: format, bytes: bytes)))
        }

        var predictors = [PredictorSpec]()
        for name in m.predictors.keys.sorted() {
            let p = m.predictors[name]!
            let weights = p.weights ?? Array(repeating: 1, count: p.models.count)
            guard weights.count == p.models.count else {
                throw ManifestError("predictor '\(name)': \(p.models.count) models but \(weights.count) weights")
            }
            predictors.append(PredictorSpec(name: name, members: zip(p.models, weights).map { .init(model: $0, weight: $1) }))
        }

        let intents = m.intents.keys.sorted().map { IntentSchema(name: $0, id: m.intents[$0]!.id, featureNames: m.intents[$0]!.features) }
        let routes = m.routes.map { RouteSpec(tenant: $0.tenant, intent: $0.intent, predictor: $0.predictor, shadows: $0.shadows ?? []) }

        var contents = SnapshotContents(
            generationID: m.generation, createdAt: m.createdAt ?? UInt64(Date().timeIntervalSince1970),
            metadata: [MetadataEntry("description", m.description ?? ""), MetadataEntry("built-by", "musectl snapshot build"),
                       MetadataEntry("manifest", manifestPath)],
            models: models, scoreMaps: ScoreMapFile(entries: []), predictors: predictors, intents: intents, routes: routes)

        // Maps are fitted on the predictors' own scores, so the table without
        // maps comes first.
        var entries = [ScoreMapFile.Entry]()
        for (i, map) in (m.maps ?? []).enumerated() {
            entries += try mapEntries(map, index: i, contents: contents)
        }
        contents.scoreMaps = ScoreMapFile(entries: entries)
        // Round-trip the maps through their text, as a load will read them.
        do { contents.scoreMaps = try ScoreMapFile.parse(contents.scoreMaps.encoded(), file: "maps") } catch {
            throw ManifestError("score maps: \(error)")
        }

        let table = try contents.routingTable()
        contents.canaries = try Canaries.record(try canaryEvents(contents), table: table)
        return contents
    }

    private func mapEntries(_ map: GenerationManifest.Map, index i: Int, contents: SnapshotContents) throws -> [ScoreMapFile.Entry] {
        let what = "maps[\(i)]"
        if let file = map.file {
            guard map.predictor == nil, map.scores == nil, map.rows == nil else {
                throw ManifestError("\(what): 'file' takes no predictor, scores or rows (the file names its predictors)")
            }
            do { return try ScoreMapFile.parse(String(decoding: try read(file, for: what), as: UTF8.self), file: file).entries } catch let e as ScoreMapFileError {
                throw ManifestError("\(what): \(e)")
            }
        }
        guard let predictor = map.predictor else { throw ManifestError("\(what): give 'file', or 'predictor' with 'scores' or 'rows'") }
        var samples = [(tenant: String, scores: [Double])]()
        if let scores = map.scores {
            guard map.rows == nil else { throw ManifestError("\(what): give 'scores' or 'rows', not both") }
            samples = try readScoreSamples(scores, what: what)
        } else if let rows = map.rows {
            let table = try contents.routingTable()
            guard let p = table.predictors.firstIndex(where: { $0.name == predictor }) else {
                throw ManifestError("\(what): predictor '\(predictor)' is not defined")
            }
            for tenant in rows.keys.sorted() {
                samples.append((tenant, try posteriors(table: table, predictor: p, csv: rows[tenant]!, what: what)))
            }
        } else {
            throw ManifestError("\(what): predictor '\(predictor)' needs 'scores' or 'rows' to fit from")
        }
        do {
            let reference = try parseReference(map.reference ?? "uniform")
            let fitter = try QuantileMapFitter(reference: reference, knots: map.knots ?? QuantileMapFitter.defaultKnots)
            let maps = try TenantMaps.fit(samples: samples, fitter: fitter, minimumSamples: map.minSamples ?? 1000)
            return ScoreMapFile(predictor: predictor, reference: reference, maps: maps).entries
        } catch let e as ScoreMapError {
            throw ManifestError("\(what): \(e)")
        }
    }

    /// The predictor's posterior (level 1 applied, before level 2) for each row.
    private func posteriors(table: RoutingTable, predictor p: Int, csv: String, what: String) throws -> [Double] {
        let spec = table.predictors[p]
        let rows: FeatureCSV
        do { rows = try FeatureCSV(try read(csv, for: what), featureNames: spec.featureNames) } catch let e as FeatureCSV.ParseError {
            throw ManifestError("\(what): \(csv): \(e)")
        }
        let width = spec.featureNames.count
        // Score through a one-route table of this predictor with no map.
        var b = RoutingTableBuilder()
        for m in manifestModels(for: spec, table: table) { try b.addModel(m.name, m.model, correction: m.correction) }
        try b.addPredictor(spec.name, members: spec.members.map { (table.modelNames[$0.model], $0.weight) })
        try b.route(tenant: "fit", intent: "fit", to: spec.name)
        let single = try b.build()
        return rows.values.withUnsafeBufferPointer { v in
            (0..<rows.rowCount).map { i in
                let x = UnsafeBufferPointer(rebasing: v[i * width..<(i + 1) * width])
                guard case .scored(let s) = single.score(tenant: 0, intent: 0, features: x) else { return .nan }
                return s.raw
            }
        }.filter { $0.isFinite }
    }

    private func manifestModels(for spec: MuseScoring.Predictor, table: RoutingTable) -> [(name: String, model: any ScoringModel, correction: PosteriorCorrection)] {
        spec.members.map { member in
            let name = table.modelNames[member.model]
            let setting = manifestCorrection(name)
            return (name, table.model(member.model), (try? setting.correction()) ?? .identity)
        }
    }

    private func manifestCorrection(_ model: String) -> CorrectionSetting {
        guard let spec = manifest.models[model] else { return .identity }
        switch (spec.negativeSamplingRate, spec.trainingPrior, spec.servingPrior) {
        case (let beta?, nil, nil): return .negativeSamplingRate(beta)
        case (nil, let t?, let s?): return .priors(training: t, serving: s)
        default: return .identity
        }
    }

    private func readScoreSamples(_ path: String, what: String) throws -> [(tenant: String, scores: [Double])] {
        let text = String(decoding: try read(path, for: what), as: UTF8.self)
        var order = [String](), byTenant = [String: [Double]]()
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(whereSeparator: { " \t,\r".contains($0) })
            if words.isEmpty || words[0].hasPrefix("#") { continue }
            guard words.count == 2, let score = Double(words[1]), score.isFinite else {
                throw ManifestError("\(what): \(path):\(n + 1): expected 'TENANT SCORE' with a finite score")
            }
            let tenant = String(words[0])
            if byTenant[tenant] == nil { order.append(tenant) }
            byTenant[tenant, default: []].append(score)
        }
        guard !order.isEmpty else { throw ManifestError("\(what): \(path) holds no scores") }
        return order.map { ($0, byTenant[$0]!) }
    }

    private func parseReference(_ spec: String) throws -> ReferenceDistribution {
        if spec == "uniform" { return .uniform }
        if spec.hasPrefix("beta:") {
            let ab = spec.dropFirst(5).split(separator: ",").compactMap { Double($0) }
            guard ab.count == 2 else { throw ManifestError("reference '\(spec)': expected beta:A,B") }
            return try .beta(ab[0], ab[1])
        }
        throw ManifestError("reference '\(spec)': expected 'uniform' or 'beta:A,B'")
    }

    /// `per_route` events for each route, from the intent's canary rows or
    /// generated from its feature names.
    private func canaryEvents(_ contents: SnapshotContents) throws -> [CanaryEvent] {
        let perRoute = manifest.canaries?.perRoute ?? 4
        guard perRoute >= 1 && perRoute <= 10_000 else { throw ManifestError("canaries.per_route must be 1 to 10000") }
        let seed = manifest.canaries?.seed ?? 0
        var events = [CanaryEvent]()
        for (r, route) in contents.routes.enumerated() {
            guard let intent = contents.intents.first(where: { $0.name == route.intent }) else { continue }
            var rows: [[Double]]
            if let csv = manifest.intents[intent.name]?.canaryRows {
                let parsed: FeatureCSV
                do { parsed = try FeatureCSV(try read(csv, for: "intent '\(intent.name)' canary rows"), featureNames: intent.featureNames) } catch let e as FeatureCSV.ParseError {
                    throw ManifestError("intent '\(intent.name)': \(csv): \(e)")
                }
                let width = intent.featureNames.count
                rows = (0..<parsed.rowCount).map { Array(parsed.values[$0 * width..<($0 + 1) * width]) }
                guard !rows.isEmpty else { throw ManifestError("intent '\(intent.name)': \(csv) has no rows") }
                // Different routes take different rows, cycling.
                rows = (0..<perRoute).map { rows[(r * perRoute + $0) % rows.count] }
            } else {
                rows = Canaries.generatedFeatures(for: intent, count: perRoute, seed: seed &+ UInt64(r))
            }
            events += rows.map { CanaryEvent(tenant: route.tenant, intent: route.intent, features: $0) }
        }
        return events
    }
}
