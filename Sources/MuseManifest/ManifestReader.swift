import MuseCore
import MuseScoring
import TOMLKit

/// Walks a parsed manifest, checking each key's type, range and names as it
/// reads it, with the source's lines at hand for errors. Numbers are read as
/// TOML's 64-bit integers and range-checked before any conversion, so no
/// value can trap.
struct ManifestReader {
    let source: ManifestSource

    static let topLevelKeys = ["generation", "description", "created_at", "models", "predictors", "maps", "intents",
                               "routes", "canaries"]
    static let modelKeys = ["file", "features", "negative_sampling_rate", "training_prior", "serving_prior"]
    static let predictorKeys = ["models", "weights"]
    static let mapKeys = ["file", "predictor", "scores", "rows", "reference", "knots", "min_samples"]
    static let intentKeys = ["id", "features", "canary_rows"]
    static let routeKeys = ["tenant", "intent", "predictor", "shadows"]
    static let canaryKeys = ["per_route", "seed"]

    /// Most canary events per route.
    static let maxCanariesPerRoute = 10_000

    func error(_ key: String?, _ message: String) -> ManifestError { source.error(key, message) }

    func manifest(_ root: TOMLTable) throws(ManifestError) -> GenerationManifest {
        try checkKeys(root, at: "", allowed: Self.topLevelKeys)
        // 0 is the generation id of "no generation" in segments and completions.
        guard let generation = try int(root, "generation", at: "", in: 1...Int.max, why: " (0 means no generation)") else {
            throw error("generation", "is missing")
        }
        let description = try string(root, "description", at: "")
        let createdAt = try int(root, "created_at", at: "", in: 0...Int.max)

        let models = try namedTables(root, "models") { (name, table, path) throws(ManifestError) in
            try model(table, at: path)
        }
        let predictors = try namedTables(root, "predictors") { (name, table, path) throws(ManifestError) in
            try predictor(table, at: path, models: models)
        }
        let intents = try namedTables(root, "intents", check: { IntentName.problem($0) }) { (name, table, path) throws(ManifestError) in
            try intent(table, at: path)
        }
        guard intents.count <= IntentName.maxCount else {
            throw error("intents", "\(intents.count) intents; muse.h's intent table holds \(IntentName.maxCount)")
        }
        var firstWithID = [UInt32: String]()
        for name in intents.keys.sorted(by: { (source.lines.line(of: "intents.\($0)") ?? 0, $0) < (source.lines.line(of: "intents.\($1)") ?? 0, $1) }) {
            let id = intents[name]!.id
            if let other = firstWithID.updateValue(name, forKey: id) {
                throw error("intents.\(name).id", "id \(id) is used by intent '\(other)' too")
            }
        }

        var maps: [GenerationManifest.Map]?
        if let list = try tables(root, "maps") {
            maps = []
            for (i, table) in list.enumerated() { maps!.append(try map(table, at: "maps[\(i)]", predictors: predictors)) }
        }
        guard let routeTables = try tables(root, "routes") else { throw error("routes", "is missing") }
        var routes = [GenerationManifest.Route]()
        var firstRoute = [String: String]()
        for (i, table) in routeTables.enumerated() {
            let path = "routes[\(i)]"
            let r = try route(table, at: path, intents: intents, predictors: predictors)
            if let other = firstRoute.updateValue(path, forKey: "\(r.tenant)/\(r.intent)") {
                throw error(path, "route \(r.tenant)/\(r.intent) is also \(other)"
                    + (source.lines.line(of: other).map { " (line \($0))" } ?? ""))
            }
            routes.append(r)
        }

        var canaries: GenerationManifest.Canaries?
        if let table = try table(root, "canaries", at: "") {
            try checkKeys(table, at: "canaries", allowed: Self.canaryKeys)
            canaries = GenerationManifest.Canaries(
                perRoute: try int(table, "per_route", at: "canaries", in: 1...Self.maxCanariesPerRoute),
                seed: try int(table, "seed", at: "canaries", in: 0...Int.max).map { UInt64($0) })
        }
        return GenerationManifest(
            generation: UInt64(generation), description: description, createdAt: createdAt.map { UInt64($0) },
            models: models, predictors: predictors, maps: maps, intents: intents, routes: routes,
            canaries: canaries, source: source)
    }

    // MARK: - Tables

    func model(_ table: TOMLTable, at path: String) throws(ManifestError) -> GenerationManifest.Model {
        try checkKeys(table, at: path, allowed: Self.modelKeys)
        guard let file = try string(table, "file", at: path) else { throw error("\(path).file", "is missing") }
        var m = GenerationManifest.Model(file: file)
        if let features = try strings(table, "features", at: path) {
            guard !features.isEmpty else { throw error("\(path).features", "list the model's features in its order, or leave the key out") }
            var seen = Set<String>()
            for (i, f) in features.enumerated() {
                if let why = FeatureName.problem(f) { throw error("\(path).features", "feature \(i): \(why)") }
                guard seen.insert(f).inserted else { throw error("\(path).features", "feature '\(f)' is named twice") }
            }
            m.features = features
        }
        m.negativeSamplingRate = try number(table, "negative_sampling_rate", at: path)
        m.trainingPrior = try number(table, "training_prior", at: path)
        m.servingPrior = try number(table, "serving_prior", at: path)
        if let beta = m.negativeSamplingRate {
            do { _ = try PosteriorCorrection(negativeSamplingRate: beta) } catch {
                throw self.error("\(path).negative_sampling_rate", "\(error)")
            }
        }
        for (key, prior) in [("training_prior", m.trainingPrior), ("serving_prior", m.servingPrior)] {
            guard let prior else { continue }
            guard prior > 0 && prior < 1 else { throw error("\(path).\(key)", "must lie strictly between 0 and 1, got \(prior)") }
        }
        switch (m.negativeSamplingRate, m.trainingPrior, m.servingPrior) {
        case (nil, nil, nil), (_?, nil, nil): break
        case (nil, let t?, let s?):
            do { _ = try PosteriorCorrection(trainingPrior: t, servingPrior: s) } catch { throw self.error(path, "\(error)") }
        default:
            throw error(path, "give either negative_sampling_rate, or both training_prior and serving_prior")
        }
        return m
    }

    func predictor(_ table: TOMLTable, at path: String,
                   models: [String: GenerationManifest.Model]) throws(ManifestError) -> GenerationManifest.Predictor {
        try checkKeys(table, at: path, allowed: Self.predictorKeys)
        guard let members = try strings(table, "models", at: path) else { throw error("\(path).models", "is missing") }
        guard !members.isEmpty else { throw error("\(path).models", "a predictor needs at least one model") }
        for m in members where models[m] == nil { throw error("\(path).models", "names model '\(m)', which is not defined") }
        var p = GenerationManifest.Predictor(models: members)
        if let weights = try numbers(table, "weights", at: path) {
            guard weights.count == members.count else {
                throw error("\(path).weights", "\(members.count) models but \(weights.count) weights")
            }
            for (i, w) in weights.enumerated() where !(w.isFinite && w > 0) {
                throw error("\(path).weights", "weight \(i) (of model '\(members[i])') must be a positive finite number, got \(w)")
            }
            guard weights.reduce(0, +).isFinite else { throw error("\(path).weights", "the weights' sum is not finite") }
            p.weights = weights
        }
        return p
    }

    func map(_ table: TOMLTable, at path: String,
             predictors: [String: GenerationManifest.Predictor]) throws(ManifestError) -> GenerationManifest.Map {
        try checkKeys(table, at: path, allowed: Self.mapKeys)
        var m = GenerationManifest.Map()
        m.file = try string(table, "file", at: path)
        m.predictor = try string(table, "predictor", at: path)
        m.scores = try string(table, "scores", at: path)
        if let rows = try self.table(table, "rows", at: path) {
            var files = [String: String]()
            for tenant in rows.keys {
                let key = "\(path).rows.\(tenant)"
                do { try TenantName.validate(tenant) } catch { throw self.error(key, "\(error)") }
                guard let file = rows[tenant]?.string else {
                    throw error(key, "must be a string (a CSV file), found \(typeName(rows[tenant]!))")
                }
                files[tenant] = file
            }
            m.rows = files
        }
        if let reference = try string(table, "reference", at: path) {
            do { _ = try ManifestBuilder.parseReference(reference) } catch { throw self.error("\(path).reference", error.message) }
            m.reference = reference
        }
        m.knots = try int(table, "knots", at: path, in: 2...QuantileMapFitter.maxKnots)
        m.minSamples = try int(table, "min_samples", at: path, in: 2...Int.max)
        if m.file != nil {
            guard m.predictor == nil, m.scores == nil, m.rows == nil else {
                throw error(path, "'file' takes no predictor, scores or rows (the file names its predictors)")
            }
        } else {
            guard let predictor = m.predictor else { throw error(path, "give 'file', or 'predictor' with 'scores' or 'rows'") }
            guard predictors[predictor] != nil else {
                throw error("\(path).predictor", "names predictor '\(predictor)', which is not defined")
            }
            switch (m.scores, m.rows) {
            case (nil, nil): throw error(path, "predictor '\(predictor)' needs 'scores' or 'rows' to fit from")
            case (_?, _?): throw error(path, "give 'scores' or 'rows', not both")
            default: break
            }
        }
        return m
    }

    func intent(_ table: TOMLTable, at path: String) throws(ManifestError) -> GenerationManifest.Intent {
        try checkKeys(table, at: path, allowed: Self.intentKeys)
        guard let id = try int(table, "id", at: path, in: 0...Int(IntentName.maxID), why: " (mused's largest intent id)") else {
            throw error("\(path).id", "is missing")
        }
        guard let features = try strings(table, "features", at: path) else { throw error("\(path).features", "is missing") }
        guard !features.isEmpty else { throw error("\(path).features", "an intent needs at least one feature") }
        var seen = Set<String>()
        for (i, f) in features.enumerated() {
            if let why = FeatureName.problem(f) { throw error("\(path).features", "feature \(i): \(why)") }
            guard seen.insert(f).inserted else { throw error("\(path).features", "feature '\(f)' is named twice") }
        }
        return GenerationManifest.Intent(id: UInt32(id), features: features, canaryRows: try string(table, "canary_rows", at: path))
    }

    func route(_ table: TOMLTable, at path: String, intents: [String: GenerationManifest.Intent],
               predictors: [String: GenerationManifest.Predictor]) throws(ManifestError) -> GenerationManifest.Route {
        try checkKeys(table, at: path, allowed: Self.routeKeys)
        guard let tenant = try string(table, "tenant", at: path) else { throw error("\(path).tenant", "is missing") }
        do { try TenantName.validate(tenant) } catch { throw self.error("\(path).tenant", "\(error)") }
        guard let intent = try string(table, "intent", at: path) else { throw error("\(path).intent", "is missing") }
        guard intents[intent] != nil else { throw error("\(path).intent", "names intent '\(intent)', which is not defined") }
        guard let predictor = try string(table, "predictor", at: path) else { throw error("\(path).predictor", "is missing") }
        guard predictors[predictor] != nil else {
            throw error("\(path).predictor", "names predictor '\(predictor)', which is not defined")
        }
        let shadows = try strings(table, "shadows", at: path)
        for s in shadows ?? [] where predictors[s] == nil {
            throw error("\(path).shadows", "names predictor '\(s)', which is not defined")
        }
        return GenerationManifest.Route(tenant: tenant, intent: intent, predictor: predictor, shadows: shadows)
    }

    /// A table of named tables (`[models.NAME]`), each name checked by
    /// `check` (else as a model or predictor name) and read by `read`.
    func namedTables<T>(_ root: TOMLTable, _ key: String, check: (String) -> String? = ManifestReader.nameProblem,
                        read: (String, TOMLTable, String) throws(ManifestError) -> T) throws(ManifestError) -> [String: T] {
        guard let table = try table(root, key, at: "") else { throw error(key, "is missing") }
        var out = [String: T]()
        for name in table.keys {
            let path = "\(key).\(name)"
            if let why = check(name) { throw error(path, why) }
            guard let inner = table[name]!.table else {
                throw error(path, "must be a table ([\(key).\(name)]), found \(typeName(table[name]!))")
            }
            out[name] = try read(name, inner, path)
        }
        return out
    }

    /// Nil if a model or predictor name can be written where mused reads it
    /// back: the score-map text (a snapshot section) names a predictor as one
    /// word on its line, and '#' starts a comment there.
    static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty else { return "a name must not be empty" }
        guard !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F || $0 == "#" })
        else { return "a name must not contain spaces, control characters or '#' (the score-map text names it as one word)" }
        return nil
    }

    // MARK: - Keys and values

    private func join(_ table: String, _ key: String) -> String { table.isEmpty ? key : "\(table).\(key)" }

    func checkKeys(_ table: TOMLTable, at path: String, allowed: [String]) throws(ManifestError) {
        // In source order, so the first unknown key written is the one named.
        let unknown = table.keys.filter { !allowed.contains($0) }
            .sorted { (source.lines.line(of: join(path, $0)) ?? 0, $0) < (source.lines.line(of: join(path, $1)) ?? 0, $1) }
        if let key = unknown.first {
            throw error(join(path, key), "unknown key; \(path.isEmpty ? "the manifest's" : "this table's") keys are "
                        + allowed.joined(separator: ", "))
        }
    }

    func string(_ table: TOMLTable, _ key: String, at path: String) throws(ManifestError) -> String? {
        guard let value = table[key] else { return nil }
        guard let s = value.string else { throw error(join(path, key), "must be a string, found \(typeName(value))") }
        return s
    }

    /// An integer within `range`; `why` explains the range in a refusal.
    func int(_ table: TOMLTable, _ key: String, at path: String, in range: ClosedRange<Int>,
             why: String = "") throws(ManifestError) -> Int? {
        guard let value = table[key] else { return nil }
        guard let n = value.int else { throw error(join(path, key), "must be an integer, found \(typeName(value))") }
        guard range.contains(n) else {
            throw error(join(path, key), "\(n) is out of range \(range.lowerBound)…\(range.upperBound)\(why)")
        }
        return n
    }

    /// A finite number; an integer is taken as one too (`weights = [1, 2]`).
    func number(_ table: TOMLTable, _ key: String, at path: String) throws(ManifestError) -> Double? {
        guard let value = table[key] else { return nil }
        return try number(value, key: join(path, key), what: "")
    }

    private func number(_ value: TOMLValueConvertible, key: String, what: String) throws(ManifestError) -> Double {
        guard let n = value.double ?? value.int.map(Double.init) else {
            throw error(key, "\(what)must be a number, found \(typeName(value))")
        }
        guard n.isFinite else { throw error(key, "\(what)must be a finite number, got \(n)") }
        return n
    }

    func table(_ table: TOMLTable, _ key: String, at path: String) throws(ManifestError) -> TOMLTable? {
        guard let value = table[key] else { return nil }
        guard let t = value.table else { throw error(join(path, key), "must be a table, found \(typeName(value))") }
        return t
    }

    /// An array of tables (`[[maps]]`).
    func tables(_ table: TOMLTable, _ key: String) throws(ManifestError) -> [TOMLTable]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            throw error(key, "must be an array of tables (write each as [[\(key)]]), found \(typeName(value))")
        }
        var out = [TOMLTable]()
        for i in 0..<array.count {
            guard let t = array[i].table else {
                throw error(key, "must be an array of tables (write each as [[\(key)]]); element \(i) is \(typeName(array[i]))")
            }
            out.append(t)
        }
        return out
    }

    func strings(_ table: TOMLTable, _ key: String, at path: String) throws(ManifestError) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            throw error(join(path, key), "must be an array of strings, found \(typeName(value))")
        }
        var out = [String]()
        for i in 0..<array.count {
            guard let s = array[i].string else {
                throw error(join(path, key), "must be an array of strings; element \(i) is \(typeName(array[i]))")
            }
            out.append(s)
        }
        return out
    }

    func numbers(_ table: TOMLTable, _ key: String, at path: String) throws(ManifestError) -> [Double]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            throw error(join(path, key), "must be an array of numbers, found \(typeName(value))")
        }
        var out = [Double]()
        for i in 0..<array.count { out.append(try number(array[i], key: join(path, key), what: "element \(i) ")) }
        return out
    }

    func typeName(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .date, .time, .dateTime: "a date or time"
        }
    }
}
