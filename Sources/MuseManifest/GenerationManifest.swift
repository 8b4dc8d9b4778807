import MuseCore
import TOMLKit

/// The TOML manifest `musectl snapshot build` reads: which model files,
/// level-1 settings, score maps, predictors, intents and routes make a
/// generation (docs/snapshot-format.md has an annotated example). Paths are
/// relative to the manifest's own directory. Unknown keys are errors, so a
/// misspelt setting is not silently ignored.
///
/// Every value is checked as it is read, against what the snapshot format
/// and mused accept (ranges, names), and a mistake names the manifest, the
/// line and the key: `manifest.toml:12: key 'intents.login.id': 4294967296 is
/// out of range 0…4095`.
public struct GenerationManifest: Sendable {
    public var generation: UInt64
    public var description: String?
    /// Unix seconds; default: the time of the build. Fix it for reproducible files.
    public var createdAt: UInt64?
    public var models: [String: Model]
    public var predictors: [String: Predictor]
    public var maps: [Map]?
    public var intents: [String: Intent]
    public var routes: [Route]
    public var canaries: Canaries?
    /// Where each key was written, for mistakes found after parsing.
    let source: ManifestSource

    public struct Model: Sendable {
        /// LightGBM text, XGBoost JSON or UBJSON, or Muse logistic JSON (detected).
        public var file: String
        /// The model's features renamed, in its own order (same count): for a
        /// model that names them f0, f1, ... or otherwise unlike the intent.
        public var features: [String]?
        public var negativeSamplingRate: Double?
        public var trainingPrior: Double?
        public var servingPrior: Double?
    }

    public struct Predictor: Sendable {
        public var models: [String]
        /// One per model; default equal weights.
        public var weights: [Double]?
    }

    /// Either `file` (an existing muse-score-maps file), or `predictor` with
    /// `scores` (a score file) or `rows` (tenant → CSV of events the
    /// predictor scores) to fit that predictor's maps from.
    public struct Map: Sendable {
        public var file: String?
        public var predictor: String?
        /// "TENANT SCORE" lines on the predictor's posterior scale (after level 1).
        public var scores: String?
        /// Tenant name → CSV file of events (header of feature names).
        public var rows: [String: String]?
        /// uniform (default) or beta:A,B.
        public var reference: String?
        public var knots: Int?
        public var minSamples: Int?
    }

    public struct Intent: Sendable {
        /// muse.h `intent_id`.
        public var id: UInt32
        public var features: [String]
        /// CSV of events to use as canaries (else generated from the features).
        public var canaryRows: String?
    }

    public struct Route: Sendable {
        public var tenant: String
        public var intent: String
        public var predictor: String
        public var shadows: [String]?
    }

    public struct Canaries: Sendable {
        /// Canary events per route (default 4).
        public var perRoute: Int?
        public var seed: UInt64?
    }

    /// Parses and checks manifest text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ManifestError) -> GenerationManifest {
        let source = ManifestSource(file: file, lines: TOMLSourceLines(text))
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            let line = e.source.begin.line
            throw ManifestError(file: file, line: line, key: source.lines.key(writtenOn: line), message: "not valid TOML: \(e.description)")
        } catch {
            throw ManifestError(file: file, line: nil, key: nil, message: "not valid TOML: \(error)")
        }
        try source.refuseNULEscapes(in: text)
        return try ManifestReader(source: source).manifest(root)
    }
}

/// The manifest's path and where each of its keys was written.
struct ManifestSource: Sendable {
    let file: String
    let lines: TOMLSourceLines

    /// A mistake in the value of `key` (a path such as `routes[1].tenant`),
    /// placed on the line that wrote it; nil: the manifest as a whole.
    func error(_ key: String?, _ message: String) -> ManifestError {
        ManifestError(file: file, line: key.flatMap { lines.line(of: $0) }, key: key, message: message)
    }

    /// TOMLKit hands strings and keys to Swift as C strings, so a NUL written
    /// as an escape would silently cut a name or a path short. No value of a
    /// manifest may hold one; refused where it is written.
    func refuseNULEscapes(in text: String) throws(ManifestError) {
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = line.drop { $0 == " " || $0 == "\t" }
            if code.hasPrefix("#") { continue }
            let bytes = Array(code.utf8)
            for escape in ["\\u0000", "\\U00000000"] {
                let pattern = Array(escape.utf8)
                var i = 0
                while i + pattern.count <= bytes.count {
                    if Array(bytes[i..<i + pattern.count]) == pattern {
                        // An escape only if the backslash is not itself escaped.
                        var backslashes = 0
                        while i - backslashes - 1 >= 0 && bytes[i - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
                        if backslashes % 2 == 0 {
                            throw ManifestError(file: file, line: offset + 1, key: lines.key(writtenOn: offset + 1),
                                                message: "\(escape) (NUL) cannot be part of a name or a path")
                        }
                    }
                    i += 1
                }
            }
        }
    }
}

/// A mistake in a manifest, or in a file it names: where, which key, what.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    /// The manifest's path.
    public let file: String
    /// 1-based; nil when the mistake is not on one line.
    public let line: Int?
    /// The key's path: `generation`, `intents.login.id`, `routes[1].tenant`.
    public let key: String?
    public let message: String

    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// `manifest.toml:12: key 'intents.login.id': MESSAGE`, with what is known of it.
    public var description: String {
        file + (line.map { ":\($0)" } ?? "") + ": " + (key.map { "key '\($0)': " } ?? "") + message
    }
}
