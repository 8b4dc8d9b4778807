import ArgumentParser
import Foundation
import MuseCore
import MuseScoring
import MuseSnapshot

/// `musectl transform`: fit level-2 score maps from scores, and apply them.
struct Transform: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit and apply score maps (posterior correction + quantile map onto a reference).",
        discussion: "Score files hold one event per line: 'SCORE' or 'TENANT SCORE' (space, tab or comma). "
            + "Map files are described in docs/score-transformation.md.",
        subcommands: [Fit.self, Apply.self])
}

/// Level-1 options, shared by fit and apply so both see the same scores.
struct CorrectionOptions: ParsableArguments {
    @Option(help: "Rate at which negatives were kept in training (posterior correction).")
    var negativeSamplingRate: Double?
    @Option(help: "Positive-class prior in training (with --serving-prior).")
    var trainingPrior: Double?
    @Option(help: "Positive-class prior in serving (with --training-prior).")
    var servingPrior: Double?

    func correction() throws -> PosteriorCorrection {
        switch (negativeSamplingRate, trainingPrior, servingPrior) {
        case (nil, nil, nil): return .identity
        case (let beta?, nil, nil): return try PosteriorCorrection(negativeSamplingRate: beta)
        case (nil, let t?, let s?): return try PosteriorCorrection(trainingPrior: t, servingPrior: s)
        default:
            throw TransformError("give either --negative-sampling-rate, or both --training-prior and --serving-prior")
        }
    }
}

/// One line of a score file, with its 1-based line number for messages.
struct ScoreLine { var tenant: String?; var score: Double; var number: Int }

/// Reads a score file. Fitting needs finite scores; `allowNaN` lets NaN
/// (`nan`, `NaN`) through for apply, where NaN maps to NaN as documented.
func readScores(_ path: String?, allowNaN: Bool = false) throws -> (name: String, lines: [ScoreLine]) {
    let name = path ?? "<stdin>"
    let text: String
    if let path {
        text = try RegularFile.readText(path)
    } else {
        text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }
    var lines = [ScoreLine]()
    // As Characters, "\r\n" is one grapheme, not "\r" then "\n".
    for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
        let words = raw.split(whereSeparator: { " \t,\r".contains($0) })
        if words.isEmpty || words[0].hasPrefix("#") { continue }
        guard words.count <= 2, let score = Double(words[words.count - 1]), score.isFinite || (allowNaN && score.isNaN) else {
            let what = allowNaN ? "a finite score or nan" : "a finite score"
            throw TransformError("\(name):\(i + 1): expected 'SCORE' or 'TENANT SCORE' with \(what), got '\(raw)'")
        }
        lines.append(ScoreLine(tenant: words.count == 2 ? String(words[0]) : nil, score: score, number: i + 1))
    }
    return (name, lines)
}

func parseReference(_ spec: String) throws -> ReferenceDistribution {
    do {
        if spec == "uniform" { return .uniform }
        if spec.hasPrefix("beta:") {
            let ab = spec.dropFirst(5).split(separator: ",").map { Double($0) }
            guard ab.count == 2, let a = ab[0], let b = ab[1] else {
                throw TransformError("--reference beta:A,B needs two numbers, got '\(spec)'")
            }
            return try .beta(a, b)
        }
        if spec.hasPrefix("empirical:") {
            let (name, lines) = try readScores(String(spec.dropFirst(10)))
            do { return try .empirical(lines.map(\.score)) } catch { throw TransformError("\(name): \(error)") }
        }
    } catch let error as ScoreMapError {
        throw TransformError("--reference \(spec): \(error)")
    }
    throw TransformError("--reference must be 'uniform', 'beta:A,B' or 'empirical:FILE', got '\(spec)'")
}

extension Transform {
    struct Fit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fit a predictor's quantile maps (pooled, and per tenant) from a sample of scores.",
            discussion: "With --sketches, from the score sketches 'musectl sketch export' wrote on one host or many "
                + "(merged: counts add) instead of a score file; the sketches hold level-1 scores, so no level-1 option applies.")

        @Option(help: "Reference distribution: uniform, beta:A,B, or empirical:FILE (a score file).")
        var reference: String = "uniform"
        @Option(help: "Knots per map.")
        var knots: Int = QuantileMapFitter.defaultKnots
        @Option(help: "Fewest scores a tenant needs for its own map; below, it uses the pooled map.")
        var minSamples: Int = 1000
        @Option(help: "Predictor the maps belong to (default: 'default'; with --sketches, the one predictor they hold).")
        var predictor: String?
        @Option(name: .customLong("sketches"), parsing: .upToNextOption,
                help: "Sketch files written by 'musectl sketch export' to fit from, merged.")
        var sketchFiles: [String] = []
        @OptionGroup var correction: CorrectionOptions
        @Option(name: .shortAndLong, help: "Map file to write (default: standard output).")
        var output: String?
        @Argument(help: "Score file (default: standard input).")
        var scores: String?
        @OptionGroup var format: JSONOption

        /// What `--json` prints; the map file itself under `maps` unless written to `--output`.
        struct Result: Encodable {
            struct Tenant: Encodable { let tenant: String; let origin: String }
            let ok = true
            let predictor: String
            let reference: String
            let samples: Int
            let tenants: [Tenant]
            let output: String?
            let maps: String?
        }

        func run() throws {
            let reference = try parseReference(reference)
            if !sketchFiles.isEmpty { return try fitSketches(reference: reference) }
            let predictor = self.predictor ?? "default"
            let corr = try correction.correction()
            let (name, lines) = try readScores(scores)
            guard !lines.isEmpty else { throw TransformError("\(name): no scores to fit") }
            var order = [String](), byTenant = [String: [Double]]()
            for line in lines {
                guard let tenant = line.tenant else { continue }
                if byTenant[tenant] == nil { order.append(tenant) }
                byTenant[tenant, default: []].append(corr.apply(line.score))
            }
            // Options are checked as options, before any score is blamed.
            let fitter: QuantileMapFitter
            do { fitter = try QuantileMapFitter(reference: reference, knots: knots) } catch { throw TransformError("--knots: \(error)") }
            guard minSamples >= 2 else { throw TransformError("--min-samples must be at least 2, got \(minSamples)") }
            let file: ScoreMapFile
            var origins: [Result.Tenant] = []
            do {
                if order.isEmpty {
                    let map = try fitter.fit(lines.map { corr.apply($0.score) })
                    file = ScoreMapFile(entries: [.init(predictor: predictor, tenant: nil, reference: reference.descriptor,
                                                        sampleCount: lines.count, correction: corr, content: .map(map))])
                } else {
                    guard byTenant.values.reduce(0, { $0 + $1.count }) == lines.count else {
                        throw TransformError("\(name): either every line names a tenant or none does")
                    }
                    let maps = try TenantMaps.fit(samples: order.map { ($0, byTenant[$0]!) }, fitter: fitter, minimumSamples: minSamples)
                    origins = maps.entries.map { Result.Tenant(tenant: $0.tenant, origin: "\($0.origin)") }
                    if !format.json {
                        for e in origins { FileHandle.standardError.write(Data("tenant \(e.tenant): \(e.origin)\n".utf8)) }
                    }
                    file = ScoreMapFile(predictor: predictor, reference: reference, maps: maps, correction: corr)
                }
            } catch let error as ScoreMapError {
                throw TransformError("\(name): \(error)")
            }
            if let output {
                try file.encoded().write(toFile: output, atomically: true, encoding: .utf8)
            }
            if format.json {
                try JSONOutput.print(Result(predictor: predictor, reference: reference.descriptor.description, samples: lines.count,
                                            tenants: origins, output: output, maps: output == nil ? file.encoded() : nil))
            } else if output == nil {
                print(file.encoded(), terminator: "")
            }
        }
    }

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Map scores to the reference scale with a map file; prints one score per line.",
            discussion: """
                Each line's tenant (or --tenant) must have an entry in the map file; an unknown \
                tenant is an error unless --pooled asks for the pooled map. The level-1 options \
                must be those the maps were fitted with (the file records them); a blend's map \
                (one odds ratio per member) takes the blend's posterior scores with none. \
                NaN maps to NaN.
                """)

        @Option(help: "Map file written by 'transform fit'.")
        var maps: String
        @Option(help: "Predictor whose maps to use.")
        var predictor: String = "default"
        @Option(help: "Tenant for lines that name none.")
        var tenant: String?
        @Flag(help: "Use the predictor's pooled map for lines naming no tenant or a tenant the file does not know.")
        var pooled = false
        @OptionGroup var correction: CorrectionOptions
        @Argument(help: "Score file (default: standard input).")
        var scores: String?
        @OptionGroup var format: JSONOption

        /// What `--json` prints: each line's score on the reference scale.
        struct Result: Encodable {
            struct Score: Encodable { let line: Int; let tenant: String?; let score: Double }
            let ok = true
            let predictor: String
            let scores: [Score]
            let warnings: [String]
        }

        func run() throws {
            let text = try RegularFile.readText(maps)
            let file: ScoreMapFile
            do { file = try ScoreMapFile.parse(text, file: maps) } catch { throw TransformError("\(error)") }
            let corr = try correction.correction()
            let (name, lines) = try readScores(scores, allowNaN: true)
            // Everything is resolved before anything is printed, so a run
            // that fails leaves no partial output behind.
            var resolved: [String?: QuantileMap] = [:]
            var out = ""
            var results: [Result.Score] = []
            var warnings: [String] = []
            for line in lines {
                let tenant = line.tenant ?? self.tenant
                if resolved[tenant] == nil {
                    let r: ScoreMapFile.Resolution
                    do {
                        r = try file.resolve(predictor: predictor, tenant: tenant, allowPooled: pooled, correction: corr)
                    } catch {
                        throw TransformError("\(maps): \(error) (for \(name):\(line.number))\(hint(error))")
                    }
                    if !r.correctionChecked {
                        let warning = "\(maps): the map of predictor '\(predictor)', tenant '\(r.entry.tenant ?? "*")' does not record its level-1 setting (an older file); it cannot be checked"
                        warnings.append(warning)
                        if !format.json { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
                    }
                    resolved[tenant] = r.map
                }
                let mapped = resolved[tenant]!.apply(corr.apply(line.score))
                if format.json {
                    results.append(Result.Score(line: line.number, tenant: line.tenant, score: mapped))
                } else {
                    out += line.tenant.map { "\($0) \(mapped)\n" } ?? "\(mapped)\n"
                }
            }
            if format.json {
                try JSONOutput.print(Result(predictor: predictor, scores: results, warnings: warnings))
            } else {
                print(out, terminator: "")
            }
        }

        /// What to do about it, in this command's options.
        private func hint(_ error: ScoreMapResolveError) -> String {
            switch error {
            case .unknownTenant, .noTenant: return "; give --tenant NAME, or --pooled to use the pooled map"
            case .unknownPredictor: return "; give --predictor NAME"
            case .correctionMismatch(_, _, let fitted, _):
                return fitted == 1 ? "; give no level-1 options" : "; e.g. --negative-sampling-rate \(fitted)"
            case .blendPosteriorExpected: return "; give no level-1 options"
            case .noPooledMap: return ""
            }
        }
    }
}

/// A bad input or option, reported as `Error: <message>` with exit status 1.
struct TransformError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Transform.Fit {
    /// `fit --sketches`: reads and merges the files (each checked whole),
    /// takes the chosen predictor's sketches, and fits them like a sample.
    func fitSketches(reference: ReferenceDistribution) throws {
        guard scores == nil else { throw TransformError("give either a score file or --sketches, not both") }
        guard correction.negativeSamplingRate == nil, correction.trainingPrior == nil, correction.servingPrior == nil else {
            throw TransformError("sketches hold level-1 (corrected) scores already; give no level-1 option with --sketches")
        }
        var files = [SketchFile]()
        for path in sketchFiles {
            let bytes: [UInt8]
            do { bytes = try RegularFile.read(path) } catch { throw TransformError("\(path): \(error)") }
            do { files.append(try SketchFile(decoding: bytes)) } catch { throw TransformError("\(path): \(error)") }
        }
        let merged = SketchFile.merge(files)
        // Predictors that saw events: a route no event took is no candidate for the default.
        let names = Set(merged.entries.filter { $0.sketch.count > 0 }.map(\.predictor)).sorted()
        let chosen: String
        if let predictor {
            chosen = predictor
        } else if names.count == 1 {
            chosen = names[0]
        } else {
            throw TransformError("the sketches hold predictors \(names.joined(separator: ", ")); choose one with --predictor")
        }
        let entries = merged.entries.filter { $0.predictor == chosen && $0.sketch.count > 0 }
        guard !entries.isEmpty else {
            throw TransformError("no events sketched for predictor '\(chosen)' (the files hold \(names.joined(separator: ", ")))")
        }
        var seen = [String: UInt64]()
        for e in entries {
            if let other = seen.updateValue(e.fingerprint, forKey: e.tenant), other != e.fingerprint {
                throw TransformError("tenant \(e.tenant): predictor '\(chosen)' was sketched under two level-1 setups "
                    + "(\(String(other, radix: 16)) and \(String(e.fingerprint, radix: 16))); fit from hosts that serve one")
            }
        }
        let fitter: QuantileMapFitter
        do { fitter = try QuantileMapFitter(reference: reference, knots: knots) } catch { throw TransformError("--knots: \(error)") }
        guard minSamples >= 2 else { throw TransformError("--min-samples must be at least 2, got \(minSamples)") }
        let maps: TenantMaps
        do {
            maps = try TenantMaps.fit(sketches: entries.map { ($0.tenant, $0.sketch) }, fitter: fitter, minimumSamples: minSamples)
        } catch { throw TransformError("--sketches: \(error)") }
        let origins = maps.entries.map { Result.Tenant(tenant: $0.tenant, origin: "\($0.origin)") }
        if !format.json {
            for e in origins { FileHandle.standardError.write(Data("tenant \(e.tenant): \(e.origin)\n".utf8)) }
        }
        let file = ScoreMapFile(predictor: chosen, reference: reference, maps: maps)
        if let output {
            try file.encoded().write(toFile: output, atomically: true, encoding: .utf8)
        }
        if format.json {
            try JSONOutput.print(Result(predictor: chosen, reference: reference.descriptor.description,
                                        samples: maps.pooledSampleCount, tenants: origins, output: output,
                                        maps: output == nil ? file.encoded() : nil))
        } else if output == nil {
            print(file.encoded(), terminator: "")
        }
    }
}
