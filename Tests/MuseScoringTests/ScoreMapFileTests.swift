import Testing
@testable import MuseScoring

@Suite("Score map file format")
struct ScoreMapFileTests {
    @Test func roundTripsExactly() throws {
        let reference = try ReferenceDistribution.beta(2, 5)
        let fitter = try QuantileMapFitter(reference: reference, knots: 65)
        let maps = try TenantMaps.fit(samples: [
            ("acme", QuantileMapTests.sample(3000, seed: 1)),
            ("tiny-co", [0.2, 0.4]),
        ], fitter: fitter, minimumSamples: 100)
        let file = ScoreMapFile(predictor: "fraud-v2", reference: reference, maps: maps)
        let text = file.encoded()
        let back = try ScoreMapFile.parse(text, file: "maps.txt")
        #expect(back == file)
        #expect(back.map(predictor: "fraud-v2", tenant: "acme") == maps.entries[0].map)
        #expect(back.map(predictor: "fraud-v2", tenant: "tiny-co") == maps.pooled)
        #expect(back.map(predictor: "fraud-v2", tenant: "unknown") == maps.pooled)
        #expect(back.map(predictor: "other", tenant: "acme") == nil)
        #expect(text.contains("fallback 2 scores, fewer than the minimum 100"))
    }

    static let good = """
        # a hand-written map
        muse-score-maps 1
        map
        predictor p
        tenant *
        reference uniform
        knots 3
        0.1 0
        0.5 0.5
        0.9 1
        end
        """

    @Test func readsCommentsAndBlankLines() throws {
        let file = try ScoreMapFile.parse(Self.good.replacingOccurrences(of: "tenant *", with: "tenant *   # pooled\n\n"), file: "f")
        let map = try #require(file.map(predictor: "p", tenant: nil))
        #expect(abs(map.apply(0.3) - 0.25) < 1e-15)
    }

    /// A file saved with Windows line ends reads the same, line numbers too.
    @Test func readsCRLF() throws {
        let crlf = Self.good.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try ScoreMapFile.parse(crlf, file: "f") == ScoreMapFile.parse(Self.good, file: "f"))
        let bad = Self.mutate("decreasing reference").replacingOccurrences(of: "\n", with: "\r\n")
        let error = try #require(throws: ScoreMapFileError.self) { try ScoreMapFile.parse(bad, file: "f") }
        #expect(error.line == 10, "\(error)")
    }

    /// Lines are read one at a time, so long runs of blank lines, comments
    /// and a last line without its newline keep their numbers.
    @Test func countsLinesAcrossLongBlankRuns() throws {
        let blanks = String(repeating: "\n", count: 100_000)
        let padded = Self.good.replacingOccurrences(of: "knots 3\n", with: "knots 3\n" + blanks + "# note\n")
        #expect(try ScoreMapFile.parse(padded, file: "f") == ScoreMapFile.parse(Self.good, file: "f"))
        let short = try #require(throws: ScoreMapFileError.self) {
            try ScoreMapFile.parse(Self.good.replacingOccurrences(of: "0.9 1\nend", with: "0.9 1") + blanks, file: "f")
        }
        #expect(short.line == 10 + 100_000 && short.message.contains("no 'end'"), "\(short)")
        let empty = try #require(throws: ScoreMapFileError.self) { try ScoreMapFile.parse(blanks, file: "f") }
        #expect(empty.line == 100_001 && empty.message.contains("empty file"), "\(empty)")
        let knots = try #require(throws: ScoreMapFileError.self) {
            try ScoreMapFile.parse(Self.good.replacingOccurrences(of: "knots 3", with: "knots 900000"), file: "f")
        }
        #expect(knots.line == 11 && knots.message.contains("knot 4 of 900000"), "\(knots)")
    }

    /// Each mutation of the good file, and the line and key its error must name.
    static let broken: [(String, String, Int, String?, String)] = [
        ("non-monotone scores", "0.5 0.5\n0.9 1", 10, "knots", "strictly increasing"),
        ("decreasing reference", "0.5 0.5\n0.9 0.4", 10, "knots", "monotone"),
        ("malformed knot", "0.5 0.5\n0.9 one", 10, "knots", "two numbers"),
        ("too few knot lines", "0.9 1\nend", 10, "knots", "knot 3 of 3"),
        ("wrong magic", "muse-score-maps 1", 2, nil, "not a score map file"),
        ("unknown key", "tenant *", 6, "colour", "unknown key"),
        ("impossible beta", "reference uniform", 6, "reference", "finite a > 0"),
        ("missing end", "end", 10, nil, "no 'end'"),
        ("uniform not reaching 1", "0.9 1", 11, "knots", "exactly 0 to exactly 1"),
        ("no predictor", "predictor p", 10, "predictor", "names no predictor"),
    ]

    static func mutate(_ name: String) -> String {
        switch name {
        case "non-monotone scores": return good.replacingOccurrences(of: "0.5 0.5\n0.9 1", with: "0.5 0.5\n0.4 1")
        case "decreasing reference": return good.replacingOccurrences(of: "0.9 1", with: "0.9 0.4")
        case "malformed knot": return good.replacingOccurrences(of: "0.9 1", with: "0.9 one")
        case "too few knot lines": return good.replacingOccurrences(of: "0.9 1\n", with: "")
        case "wrong magic": return good.replacingOccurrences(of: "muse-score-maps 1", with: "muse-score-map 1")
        case "unknown key": return good.replacingOccurrences(of: "tenant *", with: "tenant *\ncolour red")
        case "impossible beta": return good.replacingOccurrences(of: "reference uniform", with: "reference beta -1 2")
        case "missing end": return good.replacingOccurrences(of: "\nend", with: "")
        case "uniform not reaching 1": return good.replacingOccurrences(of: "0.9 1", with: "0.9 0.8")
        case "no predictor": return good.replacingOccurrences(of: "predictor p\n", with: "")
        default: return good
        }
    }

    @Test(arguments: broken.map(\.0))
    func badFileNamesLineAndKey(_ name: String) throws {
        let expected = Self.broken.first { $0.0 == name }!
        let error = try #require(throws: ScoreMapFileError.self) { try ScoreMapFile.parse(Self.mutate(name), file: "maps.txt") }
        #expect(error.file == "maps.txt")
        #expect(error.line == expected.2, "\(name): \(error)")
        #expect(error.key == expected.3, "\(name): \(error)")
        #expect(error.description.contains(expected.4), "\(name): \(error)")
        #expect(error.description.hasPrefix("maps.txt:\(expected.2): "))
    }

    @Test func otherBadFiles() {
        #expect(throws: ScoreMapFileError.self) { try ScoreMapFile.parse("", file: "empty.txt") }
        #expect(throws: ScoreMapFileError.self) { try ScoreMapFile.parse("muse-score-maps 2\n", file: "v2.txt") }
        // A fallback whose pooled map is missing.
        let orphan = "muse-score-maps 1\nmap\npredictor p\ntenant t\nreference uniform\nfallback few scores\nend\n"
        #expect { try ScoreMapFile.parse(orphan, file: "f") } throws: {
            ($0 as? ScoreMapFileError)?.key == "fallback" && ($0 as? ScoreMapFileError)?.line == 2
        }
        // The same (predictor, tenant) twice.
        let twice = Self.good + "\n" + Self.good.split(separator: "\n").dropFirst(2).joined(separator: "\n")
        #expect { try ScoreMapFile.parse(twice, file: "f") } throws: {
            ($0 as? ScoreMapFileError)?.description.contains("a second map") == true
        }
    }
}
