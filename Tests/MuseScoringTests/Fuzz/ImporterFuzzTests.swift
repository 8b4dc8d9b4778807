import Foundation
import Testing
@testable import MuseScoring

/// Fuzzing the model importers (LightGBM text, XGBoost JSON, logistic JSON)
/// and the score-map parser: no input may crash or trap, every refusal is a
/// typed error with a message and a place, and whatever loads scores
/// sanely. See `FuzzLoop` for the budget and how to run longer.
@Suite struct ImporterFuzzTests {
    @Test(arguments: FuzzTarget.allCases)
    func corpusSeedsBehave(_ target: FuzzTarget) throws {
        let seeds = try FuzzCorpus.seeds(target.rawValue)
        #expect(seeds.filter { !$0.isRegression }.count >= 2, "the \(target.rawValue) corpus needs valid seeds")
        for seed in seeds {
            let outcome = try target.run(seed.bytes)
            if seed.isRegression {
                // Each once crashed; now each must be refused with an error.
                #expect(outcome != .accepted, "\(seed.name) loaded")
                if case .rejected(let message) = outcome { print("\(target.rawValue)/\(seed.name): \(message)") }
            } else {
                #expect(outcome == .accepted, "\(seed.name): \(outcome)")
            }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func mutationsNeverCrash(_ target: FuzzTarget) throws {
        let loop = FuzzLoop(target: target, seeds: try FuzzCorpus.seeds(target.rawValue))
        print("fuzz \(target.rawValue): a crash leaves its input in \(loop.lastInputPath)")
        let report = loop.run()
        print(report)
        #expect(report.findings.isEmpty, "\(report.findings.prefix(5))")
        #expect(report.slowest < .seconds(5), "an input took \(report.slowest)")
        // The loop must exercise both sides: mutations that still load and
        // ones that are refused, in more than a handful of ways.
        #expect(report.accepted > 0 && report.rejected > 0, "\(report)")
        #expect(report.messages.count >= 10, "\(report)")
    }
}
