import Testing
@testable import MuseScoring

@Suite("Posterior correction (level 1)")
struct PosteriorCorrectionTests {
    @Test func undoesNegativeSubsampling() throws {
        // A population with prior π: after keeping negatives at rate β, the
        // model sees prior π / (π + β(1 − π)). A posterior p_s learned there
        // corrects back to the population's p.
        let beta = 0.1
        let c = try PosteriorCorrection(negativeSamplingRate: beta)
        for p in stride(from: 0.01, through: 0.99, by: 0.07) {
            // Posterior in the subsampled world for a true posterior p.
            let ps = p / (p + beta * (1 - p))
            #expect(abs(c.apply(ps) - p) < 1e-12)
        }
        let viaPriors = try PosteriorCorrection(trainingPrior: 0.02 / (0.02 + beta * 0.98), servingPrior: 0.02)
        #expect(abs(viaPriors.oddsRatio - beta) < 1e-12)
    }

    @Test func identityEndsNaNAndMonotone() throws {
        #expect(PosteriorCorrection.identity.apply(0.37) == 0.37)
        let c = try PosteriorCorrection(trainingPrior: 0.5, servingPrior: 0.01)
        #expect(c.apply(0) == 0 && c.apply(1) == 1)
        #expect(c.apply(.nan).isNaN)
        var previous = -1.0
        for i in 0...1000 {
            let v = c.apply(Double(i) / 1000)
            #expect(v > previous)
            previous = v
        }
    }

    @Test func rejectsImpossiblePriors() {
        #expect(throws: ScoreMapError.self) { try PosteriorCorrection(trainingPrior: 0, servingPrior: 0.1) }
        #expect(throws: ScoreMapError.self) { try PosteriorCorrection(trainingPrior: 0.1, servingPrior: 1.5) }
        #expect(throws: ScoreMapError.self) { try PosteriorCorrection(trainingPrior: .nan, servingPrior: 0.1) }
        #expect(throws: ScoreMapError.self) { try PosteriorCorrection(negativeSamplingRate: 0) }
        #expect(throws: ScoreMapError.self) { try PosteriorCorrection(negativeSamplingRate: 2) }
    }
}
