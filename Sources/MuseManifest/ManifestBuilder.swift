import Foundation
import MuseCore
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
    public init(path: String) throws(ManifestError) {
        let url = URL(fileURLWithPath: path)
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path) } catch {
            throw ManifestError(file: path, line: nil, key: nil, message: "cannot read: \(error.reason)")
        }
        self.init(manifest: try GenerationManifest.parse(String(decoding: bytes, as: UTF8.self), file: path),
                  baseDirectory: url.deletingLastPathComponent(), manifestPath: path)
    }

    /// A mistake in the value of `key`, on the line that wrote it.
    func error(_ key: String?, _ message: String) -> ManifestError { manifest.source.error(key, message) }

    /// The file the value of `key` names, relative to the manifest.
    func read(_ relative: String, key: String) throws(ManifestError) -> [UInt8] {
        let url = relative.hasPrefix("/") ? URL(fileURLWithPath: relative) : baseDirectory.appendingPathComponent(relative)
        do { return try RegularFile.read(url.path) } catch { throw self.error(key, "\(error)") }
    }

    /// Everything in the manifest, checked, with canaries scored.
    public func build() throws(ManifestError) -> SnapshotContents {
        do {
            return try buildChecked()
        } catch let e as ManifestError {
            throw e
        } catch {
            // What only the whole generation shows (the routing table, canaries).
            throw self.error(nil, "\(error)")
        }
    }

    private func buildChecked() throws -> SnapshotContents {
        let m = manifest
        var models = [ModelEntry]()
        for name in m.models.keys.sorted() {
            let spec = m.models[name]!
            let fileKey = "models.\(name).file"
            let bytes = try read(spec.file, key: fileKey)
            let format: ModelImporter.Format
            let loaded: any ScoringModel
            var model: SnapshotModel
            do {
                format = try ModelImporter.detectFormat(bytes)
                loaded = try ModelImporter.load(bytes)
                model = try SnapshotModel(loaded)
            } catch {
                throw self.error(fileKey, "\(spec.file): \(error)")
            }
            if let names = spec.features {
                let original = model.featureNames
                do { model = try model.renamingFeatures(names) } catch {
                    throw self.error("models.\(name).features", "lists \(names.count) names but \(spec.file) has \(original.count) features \(original)")
                }
            }
            // The reader checked the level-1 values and their combination.
            let setting = manifestCorrection(name)
            models.append(ModelEntry(name: name, model: model, correction: setting, source: ModelSource(format: format, bytes: bytes)))
        }

        var predictors = [PredictorSpec]()
        for name in m.predictors.keys.sorted() {
            let p = m.predictors[name]!
            let weights = p.weights ?? Array(repeating: 1, count: p.models.count)
            predictors.append(PredictorSpec(name: name, members: zip(p.models, weights).map { .init(model: $0, weight: $1) }))
        }

        let intents = m.intents.keys.sorted().map { IntentSchema(name: $0, id: IntentID(m.intents[$0]!.id), featureNames: m.intents[$0]!.features) }
        let routes = m.routes.map { RouteSpec(tenant: $0.tenant, intent: $0.intent, predictor: $0.predictor, shadows: $0.shadows ?? []) }
        try checkRouteFeatures(models)

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
            throw self.error("maps", "\(error)")
        }

        let table = try contents.routingTable()
        contents.canaries = try Canaries.record(try canaryEvents(contents), table: table)
        return contents
    }

    private func mapEntries(_ map: GenerationManifest.Map, index i: Int, contents: SnapshotContents) throws -> [ScoreMapFile.Entry] {
        let what = "maps[\(i)]"
        // The reader checked which keys go together and that the predictor exists.
        if let file = map.file {
            var withFile = contents
            do {
                withFile.scoreMaps = try ScoreMapFile.parse(String(decoding: try read(file, key: "\(what).file"), as: UTF8.self), file: file)
            } catch let e as ScoreMapFileError {
                throw self.error("\(what).file", "\(e)")
            }
            // Checked here too (the load checks every map) to name the file's key.
            do { try withFile.checkMapCorrections() } catch { throw self.error("\(what).file", "\(file): \(error)") }
            return withFile.scoreMaps.entries
        }
        let predictor = map.predictor!
        // The scores fitted on are the predictor's posteriors (rows are
        // scored through its level 1; a score file holds them already), so
        // every map records the predictor's level 1, as `transform fit` does.
        guard let levelOne = try contents.predictorCorrections()[predictor] else {
            throw self.error("\(what).predictor", "names predictor '\(predictor)', which is not defined")
        }
        var samples = [(tenant: String, scores: [Double])]()
        if let scores = map.scores {
            samples = try readScoreSamples(scores, key: "\(what).scores")
        } else if let rows = map.rows {
            let table = try contents.routingTable()
            guard let p = table.predictors.firstIndex(where: { $0.name == predictor }) else {
                throw self.error("\(what).predictor", "names predictor '\(predictor)', which is not defined")
            }
            for tenant in rows.keys.sorted() {
                samples.append((tenant, try posteriors(table: table, predictor: p, csv: rows[tenant]!, key: "\(what).rows.\(tenant)")))
            }
        }
        do {
            let reference = try Self.parseReference(map.reference ?? "uniform")
            let fitter = try QuantileMapFitter(reference: reference, knots: map.knots ?? QuantileMapFitter.defaultKnots)
            let maps = try TenantMaps.fit(samples: samples, fitter: fitter, minimumSamples: map.minSamples ?? 1000)
            var entries = ScoreMapFile(predictor: predictor, reference: reference, maps: maps).entries
            for i in entries.indices { entries[i].record(levelOne: levelOne.map { $0.correction }) }
            return entries
        } catch let e as ScoreMapError {
            throw self.error(what, "\(e)")
        } catch let e as ManifestValueError {
            throw self.error("\(what).reference", e.message)
        }
    }

    /// Every route's predictors (primary and shadows) take exactly its
    /// intent's features, in order: checked here to name the route's key.
    private func checkRouteFeatures(_ models: [ModelEntry]) throws(ManifestError) {
        for (i, route) in manifest.routes.enumerated() {
            guard let intent = manifest.intents[route.intent] else { continue }
            for (key, name) in [("predictor", route.predictor)] + (route.shadows ?? []).map({ ("shadows", $0) }) {
                for member in manifest.predictors[name]?.models ?? [] {
                    guard let model = models.first(where: { $0.name == member }) else { continue }
                    guard model.model.featureNames == intent.features else {
                        throw error("routes[\(i)].\(key)", "predictor '\(name)' (model '\(member)') takes features "
                                    + "\(model.model.featureNames), but intent '\(route.intent)' declares \(intent.features)")
                    }
                }
            }
        }
    }

    /// The predictor's posterior (level 1 applied, before level 2) for each row.
    private func posteriors(table: RoutingTable, predictor p: Int, csv: String, key: String) throws -> [Double] {
        let spec = table.predictors[p]
        let rows: FeatureCSV
        do { rows = try FeatureCSV(try read(csv, key: key), featureNames: spec.featureNames) } catch let e as FeatureCSV.ParseError {
            throw self.error(key, "\(csv): \(e)")
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

    private func readScoreSamples(_ path: String, key: String) throws(ManifestError) -> [(tenant: String, scores: [Double])] {
        let text = String(decoding: try read(path, key: key), as: UTF8.self)
        var order = [String](), byTenant = [String: [Double]]()
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(whereSeparator: { " \t,\r".contains($0) })
            if words.isEmpty || words[0].hasPrefix("#") { continue }
            guard words.count == 2, let score = Double(words[1]), score.isFinite else {
                throw error(key, "\(path):\(n + 1): expected 'TENANT SCORE' with a finite score")
            }
            let tenant = String(words[0])
            // The tenant names a map in the snapshot: one mused could serve.
            do { try TenantName.validate(tenant) } catch { throw self.error(key, "\(path):\(n + 1): \(error)") }
            if byTenant[tenant] == nil { order.append(tenant) }
            byTenant[tenant, default: []].append(score)
        }
        guard !order.isEmpty else { throw error(key, "\(path) holds no scores") }
        return order.map { ($0, byTenant[$0]!) }
    }

    /// `uniform` or `beta:A,B`.
    static func parseReference(_ spec: String) throws(ManifestValueError) -> ReferenceDistribution {
        if spec == "uniform" { return .uniform }
        if spec.hasPrefix("beta:") {
            let ab = spec.dropFirst(5).split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }
            guard ab.count == 2, let a = ab[0], let b = ab[1] else { throw ManifestValueError("expected beta:A,B, got '\(spec)'") }
            do { return try .beta(a, b) } catch { throw ManifestValueError("'\(spec)': \(error)") }
        }
        throw ManifestValueError("expected 'uniform' or 'beta:A,B', got '\(spec)'")
    }

    /// `per_route` events for each route, from the intent's canary rows or
    /// generated from its feature names.
    private func canaryEvents(_ contents: SnapshotContents) throws -> [CanaryEvent] {
        let perRoute = manifest.canaries?.perRoute ?? 4
        let seed = manifest.canaries?.seed ?? 0
        var events = [CanaryEvent]()
        for (r, route) in contents.routes.enumerated() {
            guard let intent = contents.intents.first(where: { $0.name == route.intent }) else { continue }
            var rows: [[Double]]
            if let csv = manifest.intents[intent.name]?.canaryRows {
                let key = "intents.\(intent.name).canary_rows"
                let parsed: FeatureCSV
                do { parsed = try FeatureCSV(try read(csv, key: key), featureNames: intent.featureNames) } catch let e as FeatureCSV.ParseError {
                    throw self.error(key, "\(csv): \(e)")
                }
                let width = intent.featureNames.count
                rows = (0..<parsed.rowCount).map { Array(parsed.values[$0 * width..<($0 + 1) * width]) }
                guard !rows.isEmpty else { throw self.error(key, "\(csv) has no rows") }
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

/// Why a single manifest value is unusable, before its key is attached.
struct ManifestValueError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
