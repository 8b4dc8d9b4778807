import MuseScoring

/// Reading each section back into `SnapshotContents`. The bytes passed the
/// section checksums, but a checksum only says the file is the one that was
/// written, not that its writer was sound: every count and every value that
/// indexes something is checked here too, names that tie sections together
/// are unique, and nothing takes more than linear time in the file's size.
extension SnapshotContents {
    static func decode(header: SnapshotContainer.Header, sections: [SectionKind: UnsafeRawBufferPointer],
                       keepModelSources: Bool) throws(SnapshotError) -> SnapshotContents {
        func section(_ kind: SectionKind) throws(SnapshotError) -> ByteReader {
            guard let bytes = sections[kind] else { throw .missingSection(kind.name) }
            return ByteReader(bytes, section: kind.name)
        }
        func finish(_ r: ByteReader) throws(SnapshotError) {
            guard r.isAtEnd else { throw r.fail("\(r.remaining) unexpected bytes after the last record") }
        }
        // Equal feature lists share one array, so comparing a model's
        // features with an intent's is one identity test (Array's == checks
        // for a shared buffer first) however many routes and members ask.
        var featureLists = Set<[String]>()
        func shared(_ names: [String]) -> [String] { featureLists.insert(names).memberAfterInsert }

        var r = try section(.metadata)
        var metadata = [MetadataEntry]()
        for _ in 0..<(try r.count("entry", minimumSize: 8)) {
            metadata.append(MetadataEntry(try r.string("key"), try r.string("value")))
        }
        try finish(r)

        r = try section(.intents)
        var intents = [IntentSchema]()
        for _ in 0..<(try r.count("intent", minimumSize: 20)) {
            let name = try r.string("intent name")
            let id = try r.u32("intent id")
            let hash = try r.u64("schema hash")
            let names = shared(try r.strings("feature names of '\(name)'"))
            let intent = IntentSchema(name: name, id: IntentID(id), featureNames: names)
            guard intent.schemaHash == hash else {
                throw .invalidIntent(name, "recorded schema hash \(hex(hash)) is not the FNV-1a of its feature names (\(hex(intent.schemaHash)))")
            }
            intents.append(intent)
        }
        try finish(r)

        r = try section(.predictors)
        var predictors = [PredictorSpec]()
        var predictorNames = Set<String>()
        for _ in 0..<(try r.count("predictor", minimumSize: 8)) {
            let name = try r.string("predictor name")
            guard predictorNames.insert(name).inserted else { throw r.fail("predictor '\(name)' is defined twice") }
            var members = [PredictorSpec.Member]()
            for _ in 0..<(try r.count("members of '\(name)'", minimumSize: 12)) {
                let model = try r.string("member model"), weight = try r.f64("member weight")
                // Weights are normalised by their sum: NaN, an infinity or a
                // sign would poison every score of the predictor.
                guard weight.isFinite, weight > 0 else {
                    throw r.fail("predictor '\(name)', model '\(model)': weight \(weight) is not a positive finite number")
                }
                members.append(.init(model: model, weight: weight))
            }
            predictors.append(PredictorSpec(name: name, members: members))
        }
        try finish(r)

        r = try section(.corrections)
        var corrections = [String: CorrectionSetting]()
        for _ in 0..<(try r.count("correction", minimumSize: 29)) {
            let model = try r.string("model name")
            let kind = try r.u8("kind"), a = try r.f64("parameter 1"), b = try r.f64("parameter 2")
            let odds = try r.f64("odds ratio")
            let setting: CorrectionSetting
            switch kind {
            case 0: setting = .identity
            case 1: setting = .negativeSamplingRate(a)
            case 2: setting = .priors(training: a, serving: b)
            default: throw r.fail("model '\(model)': unknown level-1 kind \(kind)")
            }
            let computed: PosteriorCorrection
            do { computed = try setting.correction() } catch {
                throw .invalidModel(model, "level-1 setting \(setting.description): \(error)")
            }
            guard computed.oddsRatio.bitPattern == odds.bitPattern else {
                throw .invalidModel(model, "level-1 odds ratio \(odds) does not follow from its setting (\(setting.description) gives \(computed.oddsRatio))")
            }
            guard corrections.updateValue(setting, forKey: model) == nil else { throw .invalidModel(model, "has two level-1 settings") }
        }
        try finish(r)

        r = try section(.routes)
        var routes = [RouteSpec]()
        for _ in 0..<(try r.count("route", minimumSize: 16)) {
            routes.append(RouteSpec(tenant: try r.string("tenant"), intent: try r.string("intent"),
                                    predictor: try r.string("predictor"), shadows: try r.strings("shadows")))
        }
        try finish(r)

        guard let mapBytes = sections[.scoreMaps] else { throw .missingSection(SectionKind.scoreMaps.name) }
        guard let mapText = String(validating: mapBytes, as: UTF8.self) else {
            throw .malformedSection(SectionKind.scoreMaps.name, "is not valid UTF-8")
        }
        let scoreMaps: ScoreMapFile
        do { scoreMaps = try ScoreMapFile.parse(mapText, file: "score-maps section") } catch {
            throw .invalidScoreMaps(error.description)
        }

        r = try section(.modelSources)
        var sources = [String: ModelSource]()
        for _ in 0..<(try r.count("model source", minimumSize: 16)) {
            let name = try r.string("model name")
            let formatName = try r.string("format")
            guard let format = ModelImporter.Format(rawValue: formatName) else {
                throw r.fail("model '\(name)': unknown source format '\(formatName)'")
            }
            let source: ModelSource
            if keepModelSources {
                source = ModelSource(format: format, bytes: try r.blob("source of '\(name)'"))
            } else {
                let n = try r.u64("source length")
                guard n <= UInt64(r.remaining) else { throw r.fail("source of '\(name)' is \(n) bytes but \(r.remaining) are left") }
                _ = try r.take(Int(n), "source of '\(name)'")
                source = ModelSource(format: format, byteCount: Int(n))
            }
            guard sources.updateValue(source, forKey: name) == nil else { throw r.fail("model '\(name)' has two sources") }
        }
        try finish(r)

        r = try section(.models)
        var models = [ModelEntry]()
        var modelNames = Set<String>()
        for _ in 0..<(try r.count("model", minimumSize: 16)) {
            let name = try r.string("model name")
            guard modelNames.insert(name).inserted else { throw .invalidModel(name, "is defined twice in the models section") }
            let model = try decodeModel(&r, name, shared)
            guard let source = sources[name] else { throw .invalidModel(name, "has no source text in the model-sources section") }
            guard let setting = corrections[name] else { throw .invalidModel(name, "has no level-1 setting in the corrections section") }
            models.append(ModelEntry(name: name, model: model, correction: setting, source: source))
        }
        try finish(r)
        for name in Set(sources.keys).union(corrections.keys) where !modelNames.contains(name) {
            throw .invalidModel(name, "has a source or level-1 setting but no model")
        }

        r = try section(.canaries)
        var canaries = [CanaryEvent]()
        for _ in 0..<(try r.count("canary", minimumSize: 16)) {
            let tenant = try r.string("tenant"), intent = try r.string("intent")
            let n = try r.count("features", minimumSize: 8)
            let features = try r.raw(UInt64.self, count: n, "features").map { Double(bitPattern: UInt64(littleEndian: $0)) }
            var expected = [CanaryScore]()
            for _ in 0..<(try r.count("scores", minimumSize: 20)) {
                expected.append(CanaryScore(predictor: try r.string("predictor"), raw: try r.f64("raw score"), score: try r.f64("score")))
            }
            canaries.append(CanaryEvent(tenant: tenant, intent: intent, features: features, expected: expected))
        }
        try finish(r)

        return SnapshotContents(generationID: header.generationID, createdAt: header.createdAt, metadata: metadata,
                                models: models, scoreMaps: scoreMaps, predictors: predictors, intents: intents,
                                routes: routes, canaries: canaries)
    }

    /// One model's flat form: a copy of its arrays and the shape checks of
    /// `TreeEnsemble(flat:)`; no text is parsed.
    private static func decodeModel(_ r: inout ByteReader, _ name: String,
                                    _ shared: ([String]) -> [String]) throws(SnapshotError) -> SnapshotModel {
        let kind = try r.u8("model kind")
        let features = shared(try r.strings("feature names of '\(name)'"))
        switch kind {
        case 1:
            let accTag = try r.u8("accumulation"), divisor = try r.f64("divisor")
            let linkTag = try r.u8("link"), k = try r.f64("link factor")
            let base = try r.f64("base margin")
            let nodeCount = Int(try r.u32("node count")), rootCount = Int(try r.u32("root count"))
            let laneCount = Int(try r.u32("lane count")), wordCount = Int(try r.u32("category word count"))
            try r.align(16)
            let nodes = try r.raw(TreeNode.self, count: nodeCount, "nodes of '\(name)'")
            let roots = try r.raw(UInt32.self, count: rootCount, "roots of '\(name)'")
            let lanes = try r.raw(UInt32.self, count: laneCount, "lanes of '\(name)'")
            let words = try r.raw(UInt32.self, count: wordCount, "category words of '\(name)'")
            try r.align(16)
            let accumulation: TreeEnsemble.Accumulation
            switch accTag {
            case 1: accumulation = .double(divisor: divisor)
            case 2: accumulation = .float
            default: throw r.fail("model '\(name)': unknown accumulation \(accTag)")
            }
            let link: TreeEnsemble.Link
            switch linkTag {
            case 1: link = .lightgbmSigmoid(k: k)
            case 2: link = .xgboostSigmoid
            case 3: link = .logistic
            default: throw r.fail("model '\(name)': unknown link \(linkTag)")
            }
            do {
                return .trees(try TreeEnsemble(flat: .init(
                    featureNames: features, nodes: nodes, roots: roots, laneStarts: lanes, categoryWords: words,
                    baseMargin: base, accumulation: accumulation, link: link)))
            } catch {
                throw .invalidModel(name, error.description)
            }
        case 2:
            let intercept = try r.f64("intercept")
            let n = try r.count("coefficients", minimumSize: 8)
            try r.align(16)
            let coefficients = try r.raw(Double.self, count: n, "coefficients of '\(name)'")
            guard intercept.isFinite, coefficients.allSatisfy(\.isFinite) else {
                throw .invalidModel(name, "a logistic coefficient or the intercept is not finite")
            }
            do {
                return .logistic(try LogisticModel(featureNames: features, coefficients: coefficients, intercept: intercept))
            } catch {
                throw .invalidModel(name, error.description)
            }
        default:
            throw r.fail("model '\(name)': unknown model kind \(kind)")
        }
    }
}
