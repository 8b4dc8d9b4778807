import Testing
@testable import MuseScoring

/// `ScoreMapFile.resolve`: which map a (predictor, tenant) gets, and when
/// there is none to give rather than a silent pooled one.
@Suite struct ScoreMapResolveTests {
    static let beta = try! PosteriorCorrection(negativeSamplingRate: 0.1)

    /// Predictor p: pooled, acme's own map, tiny's fallback; predictor q: pooled only.
    static func file(correction: PosteriorCorrection? = beta) throws -> ScoreMapFile {
        let pooled = try QuantileMap(scores: [0, 1], references: [0, 1])
        let acme = try QuantileMap(scores: [0, 0.5, 1], references: [0, 0.9, 1])
        return ScoreMapFile(entries: [
            .init(predictor: "p", tenant: nil, reference: .uniform, sampleCount: 10, correction: correction, content: .map(pooled)),
            .init(predictor: "p", tenant: "acme", reference: .uniform, sampleCount: 5, correction: correction, content: .map(acme)),
            .init(predictor: "p", tenant: "tiny", reference: .uniform, sampleCount: nil, correction: correction,
                  content: .fallback(reason: "few")),
            .init(predictor: "q", tenant: nil, reference: .uniform, sampleCount: 10, correction: correction, content: .map(pooled)),
        ])
    }

    @Test func knownTenantsGetTheirEntry() throws {
        let f = try Self.file()
        let acme = try f.resolve(predictor: "p", tenant: "acme", allowPooled: false, correction: Self.beta)
        #expect(!acme.isPooled && acme.map.apply(0.5) == 0.9 && acme.correctionChecked)
        let tiny = try f.resolve(predictor: "p", tenant: "tiny", allowPooled: false, correction: Self.beta)
        #expect(tiny.isPooled && tiny.entry.tenant == "tiny" && tiny.map.apply(0.5) == 0.5)
    }

    @Test func unknownTenantIsAnErrorUnlessPooledIsAllowed() throws {
        let f = try Self.file()
        #expect(throws: ScoreMapResolveError.unknownTenant("acmee", predictor: "p", known: ["acme", "tiny"])) {
            try f.resolve(predictor: "p", tenant: "acmee", allowPooled: false, correction: Self.beta)
        }
        let pooled = try f.resolve(predictor: "p", tenant: "acmee", allowPooled: true, correction: Self.beta)
        #expect(pooled.isPooled && pooled.entry.tenant == nil)
        let message = ScoreMapResolveError.unknownTenant("acmee", predictor: "p", known: ["acme", "tiny"]).description
        #expect(message.contains("'acmee'") && message.contains("acme, tiny"), "\(message)")
    }

    @Test func noTenantIsPooledOnlyWhenNothingElseCouldBeMeant() throws {
        let f = try Self.file()
        #expect(throws: ScoreMapResolveError.noTenant(predictor: "p", known: ["acme", "tiny"])) {
            try f.resolve(predictor: "p", tenant: nil, allowPooled: false, correction: Self.beta)
        }
        #expect(try f.resolve(predictor: "p", tenant: nil, allowPooled: true, correction: Self.beta).isPooled)
        #expect(try f.resolve(predictor: "q", tenant: nil, allowPooled: false, correction: Self.beta).isPooled)
        #expect(throws: ScoreMapResolveError.unknownPredictor("r", known: ["p", "q"])) {
            try f.resolve(predictor: "r", tenant: "acme", allowPooled: true, correction: Self.beta)
        }
    }

    @Test func levelOneMustMatchWhereRecorded() throws {
        let f = try Self.file()
        #expect(throws: ScoreMapResolveError.correctionMismatch(predictor: "p", tenant: "acme", fitted: 0.1, given: 1)) {
            try f.resolve(predictor: "p", tenant: "acme", allowPooled: false, correction: .identity)
        }
        #expect(throws: ScoreMapResolveError.correctionMismatch(predictor: "p", tenant: nil, fitted: 0.1, given: 0.2)) {
            try f.resolve(predictor: "p", tenant: "other", allowPooled: true, correction: try PosteriorCorrection(negativeSamplingRate: 0.2))
        }
        // A file from before `correction` existed cannot be checked, and says so.
        let old = try Self.file(correction: nil)
        let r = try old.resolve(predictor: "p", tenant: "acme", allowPooled: false, correction: .identity)
        #expect(!r.correctionChecked)
    }

    @Test func correctionRoundTripsThroughTheText() throws {
        let f = try Self.file(correction: try PosteriorCorrection(trainingPrior: 0.1, servingPrior: 0.01))
        let text = f.encoded()
        #expect(text.contains("\ncorrection 0.0909090909090909"), "\(text)")
        #expect(try ScoreMapFile.parse(text, file: "f") == f)
        // Files without the key still read, as before it existed.
        let old = try Self.file(correction: nil)
        #expect(!old.encoded().contains("correction"))
        #expect(try ScoreMapFile.parse(old.encoded(), file: "f") == old)
    }

    /// A blend's map records each member's odds ratio, in member order.
    @Test func aBlendsMapRecordsEachMembersLevelOne() throws {
        var f = try Self.file(correction: nil)
        let members = [Self.beta, PosteriorCorrection.identity]
        for i in f.entries.indices where f.entries[i].predictor == "p" { f.entries[i].record(levelOne: members) }
        let text = f.encoded()
        #expect(text.contains("\ncorrection 0.1 1.0\n"), "\(text)")
        let parsed = try ScoreMapFile.parse(text, file: "f")
        #expect(parsed == f && parsed.entries[0].memberCorrections == members && parsed.entries[0].correction == nil)
        #expect(parsed.entries[0].recordedCorrection == "0.1 1.0")

        // Matching: the list member by member; one ratio stands for every member.
        #expect(parsed.entries[0].correctionMatches(members) == true)
        #expect(parsed.entries[0].correctionMatches([.identity, Self.beta]) == false)
        #expect(parsed.entries[0].correctionMatches([Self.beta]) == false)
        let single = ScoreMapFile.Entry(predictor: "p", tenant: nil, reference: .uniform, sampleCount: nil, correction: Self.beta,
                                        content: .fallback(reason: "x"))
        #expect(single.correctionMatches([Self.beta, Self.beta]) == true)
        #expect(single.correctionMatches([Self.beta, .identity]) == false)
        #expect(parsed.entries[3].correctionMatches(members) == nil)  // q records none

        // Its scores are the blend's posteriors, already corrected: apply
        // takes them with no level 1 of its own.
        #expect(try parsed.resolve(predictor: "p", tenant: "acme", allowPooled: false, correction: .identity).correctionChecked)
        #expect(throws: ScoreMapResolveError.blendPosteriorExpected(predictor: "p", tenant: "acme", members: [0.1, 1], given: 0.1)) {
            try parsed.resolve(predictor: "p", tenant: "acme", allowPooled: false, correction: Self.beta)
        }
    }

    @Test(arguments: [("correction 0", "positive finite"), ("correction -1", "positive finite"), ("correction nan", "positive finite"),
                      ("correction inf", "positive finite"), ("correction", "odds ratio"), ("correction 0.1 x", "odds ratio"),
                      ("correction 0.1 -1", "positive finite"), ("correction 0.1 0.2\ncorrection 0.1", "given twice"),
                      ("correction 0.1\ncorrection 0.1", "given twice")])
    func badCorrectionNamesLineAndKey(_ line: String, _ reason: String) throws {
        let text = ScoreMapFileTests.good.replacingOccurrences(of: "reference uniform", with: "reference uniform\n\(line)")
        let error = try #require(throws: ScoreMapFileError.self) { try ScoreMapFile.parse(text, file: "maps.txt") }
        #expect(error.key == "correction" && error.description.contains(reason), "\(error)")
        #expect(error.line == (line.contains("\n") ? 8 : 7), "\(error)")
    }
}

/// A map file's size decides how long it takes to read, linearly: the check
/// for a repeated (predictor, tenant) used to compare every entry with every
/// earlier one, so a 3 MB file of small entries took minutes.
@Suite struct ScoreMapFileScaleTests {
    @Test func manyEntriesReadInLinearTime() throws {
        var text = "muse-score-maps 1\nmap\npredictor p\ntenant *\nreference uniform\nknots 2\n0 0\n1 1\nend\n"
        let tenants = 40_000
        for t in 0..<tenants { text += "map\npredictor p\ntenant t\(t)\nreference uniform\nfallback few\nend\n" }
        let clock = ContinuousClock()
        let start = clock.now
        let file = try ScoreMapFile.parse(text, file: "many.txt")
        let elapsed = clock.now - start
        #expect(file.entries.count == tenants + 1)
        #expect(elapsed < .seconds(20), "\(elapsed) for \(tenants) entries")
        // The same file with one tenant repeated at the end is still refused, naming both lines.
        let twice = text + "map\npredictor p\ntenant t7\nreference uniform\nfallback again\nend\n"
        let error = try #require(throws: ScoreMapFileError.self) { try ScoreMapFile.parse(twice, file: "many.txt") }
        #expect(error.description.contains("a second map for predictor 'p', tenant 't7' (first at line \(10 + 7 * 6))"), "\(error)")
    }
}
