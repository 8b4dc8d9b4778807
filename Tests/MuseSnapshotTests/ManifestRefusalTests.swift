import Foundation
import Testing
import MuseManifest
import MuseScoring
@testable import MuseSnapshot

/// What `snapshot build` does with numbers and names it cannot use: it
/// refuses them naming the manifest, the line and the key, and never traps.
extension ManifestTests {
    /// A manifest using every numeric key of the format; `{key}` tokens take
    /// the values of `values` (else the defaults here).
    static let template = """
        generation = {generation}
        created_at = {created_at}

        [models.{model}]
        file = "MODEL"
        negative_sampling_rate = {negative_sampling_rate}

        [models.m2]
        file = "MODEL"
        training_prior = {training_prior}
        serving_prior = {serving_prior}

        [predictors.{predictor}]
        models = ["{model_ref}", "m2"]
        weights = [{weights}, 1]

        [[maps]]
        predictor = "{predictor_ref}"
        scores = "samples.txt"
        knots = {knots}
        min_samples = {min_samples}

        [intents.{intent}]
        id = {id}
        features = [{features}]

        [[routes]]
        tenant = {tenant}
        intent = "{intent_ref}"
        predictor = "{predictor_ref}"

        [canaries]
        per_route = {per_route}
        seed = {seed}
        """

    static let defaults = [
        "generation": "7", "created_at": "1764000000", "negative_sampling_rate": "0.5", "training_prior": "0.1",
        "serving_prior": "0.2", "weights": "1", "knots": "11", "min_samples": "100", "id": "4", "per_route": "2",
        "seed": "1", "model": "m", "model_ref": "m", "predictor": "p", "predictor_ref": "p", "intent": "login",
        "intent_ref": "login", "tenant": "\"t1\"",
        "features": #""f_num_0", "f_num_1", "f_num_2", "f_num_3", "f_num_4""#,
    ]

    /// Writes the manifest (and its score file) into `dir`; returns its path
    /// and the 1-based line each token is on.
    static func manifest(in dir: TemporaryDirectory, _ values: [String: String]) throws -> (path: String, lines: [String: Int]) {
        var text = template.replacingOccurrences(of: "MODEL", with: Repo.path("\(Repo.fixtures)/nan_missing.lgb.txt"))
        var lines = [String: Int]()
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for key in defaults.keys where line.contains("{\(key)}") { lines[key] = lines[key] ?? n + 1 }
        }
        for (key, value) in defaults.merging(values, uniquingKeysWith: { $1 }) {
            text = text.replacingOccurrences(of: "{\(key)}", with: value)
        }
        var samples = ""
        for i in 0..<200 { samples += "t1 \(Double(i) / 200)\n" }
        try samples.write(toFile: dir.path("samples.txt"), atomically: true, encoding: .utf8)
        let path = dir.path("manifest.toml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, lines)
    }

    /// Builds; nil if it built, else the refusal's text.
    static func refusal(_ path: String) -> String? {
        do {
            _ = try ManifestBuilder(path: path).build()
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// (token, the key a refusal must name, the candidate values that must build).
    static let numericKeys: [(token: String, key: String, builds: Set<String>)] = [
        ("generation", "generation", ["2147483648", "4294967296"]),
        ("created_at", "created_at", ["0", "2147483648", "4294967296"]),
        ("negative_sampling_rate", "models.m.negative_sampling_rate", []),
        ("training_prior", "models.m2.training_prior", []),
        ("serving_prior", "models.m2.serving_prior", []),
        ("weights", "predictors.p.weights", ["2147483648", "4294967296", "1.5"]),
        ("knots", "maps[0].knots", []),
        ("min_samples", "maps[0].min_samples", ["2147483648", "4294967296"]),
        ("id", "intents.login.id", ["0"]),
        ("per_route", "canaries.per_route", []),
        ("seed", "canaries.seed", ["0", "2147483648", "4294967296"]),
    ]

    static let candidates = ["-1", "0", "2147483648", "4294967296", "9223372036854775808", "18446744073709551616",
                             "1.5", "\"x\"", "true"]

    @Test(arguments: numericKeys)
    func everyNumericKeyIsRangeCheckedWithItsLine(_ entry: (token: String, key: String, builds: Set<String>)) throws {
        for value in Self.candidates {
            let dir = TemporaryDirectory()
            let (path, lines) = try Self.manifest(in: dir, [entry.token: value])
            let why = Self.refusal(path)
            if entry.builds.contains(value) {
                #expect(why == nil, "\(entry.key) = \(value) should build: \(why ?? "")")
            } else {
                let prefix = "\(path):\(lines[entry.token]!): key '\(entry.key)'"
                #expect(why?.hasPrefix(prefix) == true, "\(entry.key) = \(value): expected '\(prefix)…', got \(why ?? "a build")")
            }
        }
    }

    @Test func aWrongTypeIsNamedAsSuch() throws {
        let dir = TemporaryDirectory()
        var (path, lines) = try Self.manifest(in: dir, ["generation": "\"7\""])
        #expect(Self.refusal(path) == "\(path):\(lines["generation"]!): key 'generation': must be an integer, found a string")
        (path, lines) = try Self.manifest(in: dir, ["id": "1.0"])
        #expect(Self.refusal(path) == "\(path):\(lines["id"]!): key 'intents.login.id': must be an integer, found a floating-point number")
        (path, lines) = try Self.manifest(in: dir, ["features": "1, 2"])
        #expect(Self.refusal(path)?.hasPrefix("\(path):\(lines["features"]!): key 'intents.login.features': ") == true)
        (path, lines) = try Self.manifest(in: dir, ["tenant": "[\"t1\"]"])
        #expect(Self.refusal(path) == "\(path):\(lines["tenant"]!): key 'routes[0].tenant': must be a string, found an array")
    }

    /// (token, value, the key a refusal must name; nil: the token's own line
    /// is the table header the name is written in).
    static let badNames: [(token: String, value: String, key: String)] = [
        ("tenant", #""../alpha""#, "routes[0].tenant"),
        ("tenant", #""""#, "routes[0].tenant"),
        ("tenant", #""a b""#, "routes[0].tenant"),
        ("tenant", #"".hidden""#, "routes[0].tenant"),
        ("tenant", "\"\(String(repeating: "x", count: 64))\"", "routes[0].tenant"),
        ("features", #""f_num_0", "", "f_num_2", "f_num_3", "f_num_4""#, "intents.login.features"),
        ("features", #""f_num_0", "a\nb", "f_num_2", "f_num_3", "f_num_4""#, "intents.login.features"),
        ("features", #""f_num_0", "a\u0000b", "f_num_2", "f_num_3", "f_num_4""#, "intents.login.features"),
        ("features", "\"f_num_0\", \"\(String(repeating: "f", count: 256))\", \"f_num_2\", \"f_num_3\", \"f_num_4\"",
         "intents.login.features"),
        ("features", #""f_num_0", "f_num_0", "f_num_2", "f_num_3", "f_num_4""#, "intents.login.features"),
    ]

    @Test(arguments: badNames)
    func badNamesAreRefusedWithTheirLineAndKey(_ entry: (token: String, value: String, key: String)) throws {
        let dir = TemporaryDirectory()
        let (path, lines) = try Self.manifest(in: dir, [entry.token: entry.value])
        let why = Self.refusal(path)
        let prefix = "\(path):\(lines[entry.token]!): key '\(entry.key)'"
        #expect(why?.hasPrefix(prefix) == true, "\(entry.token) = \(entry.value): expected '\(prefix)…', got \(why ?? "a build")")
    }

    /// Names written as table keys: intents (muse.h's 48-byte field), models
    /// and predictors (written into the score-map text, one word each).
    @Test func badTableNamesAreRefusedOnTheirHeaderLine() throws {
        let long = String(repeating: "i", count: 48)
        let cases: [(values: [String: String], token: String, key: String)] = [
            (["intent": "\"\(long)\"", "intent_ref": long], "intent", "intents.\(long)"),
            (["intent": "\"\"", "intent_ref": ""], "intent", "intents."),
            (["model": "\"a b\"", "model_ref": "a b"], "model", "models.a b"),
            (["predictor": "\"p#1\"", "predictor_ref": "p#1"], "predictor", "predictors.p#1"),
            (["predictor": "\"p q\"", "predictor_ref": "p q"], "predictor", "predictors.p q"),
        ]
        for c in cases {
            let dir = TemporaryDirectory()
            let (path, lines) = try Self.manifest(in: dir, c.values)
            let why = Self.refusal(path)
            let prefix = "\(path):\(lines[c.token]!): key '\(c.key)'"
            #expect(why?.hasPrefix(prefix) == true, "\(c.values): expected '\(prefix)…', got \(why ?? "a build")")
        }
        // 47 bytes is muse.h's longest intent name.
        let dir = TemporaryDirectory()
        let fits = String(repeating: "i", count: 47)
        let (path, _) = try Self.manifest(in: dir, ["intent": fits, "intent_ref": fits])
        #expect(Self.refusal(path) == nil)
    }

    @Test func theTemplateBuilds() throws {
        let dir = TemporaryDirectory()
        let (path, _) = try Self.manifest(in: dir, [:])
        #expect(Self.refusal(path) == nil)
    }
}
