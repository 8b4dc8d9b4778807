import Testing
@testable import MuseScoring

@Suite("Inverse regularized incomplete beta")
struct IncompleteBetaTests {
    /// (a, b, p, x) from scipy.special.betaincinv (tools/fixtures/make_betaincinv.py).
    static func cases() throws -> [(a: Double, b: Double, p: Double, x: Double)] {
        try ScoreMapFixtures.text("betaincinv.csv").split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.hasPrefix("a,") }
            .map { line in
                let v = line.split(separator: ",").map { Double($0)! }
                return (v[0], v[1], v[2], v[3])
            }
    }

    @Test func matchesScipy() throws {
        let cases = try Self.cases()
        #expect(cases.count > 100)
        var worst = 0.0
        for c in cases {
            let x = IncompleteBeta.inverse(c.p, c.a, c.b)
            // Relative to x (tiny quantiles) and to 1 − x (quantiles near 1).
            let err = abs(x - c.x) / max(min(c.x, 1 - c.x), 1e-300)
            worst = max(worst, err)
            #expect(err < 1e-9, "a=\(c.a) b=\(c.b) p=\(c.p): got \(x), scipy \(c.x)")
            // And the forward function takes it back to p, where x itself is
            // well-conditioned (within 1e-8 of 1, an ulp of x moves I_x a lot).
            guard 1 - c.x > 1e-8 else { continue }
            let back = IncompleteBeta.regularized(c.x, c.a, c.b)
            #expect(abs(back - c.p) <= 1e-10 * max(min(c.p, 1 - c.p), 1e-12) + 1e-15,
                    "I_x(\(c.a), \(c.b)) at \(c.x) = \(back), expected \(c.p)")
        }
        print("inverse incomplete beta: worst relative error vs scipy \(worst) over \(cases.count) cases")
    }

    @Test func endsAndMonotone() {
        for (a, b) in [(0.5, 0.5), (2.0, 5.0), (0.1, 3.0)] {
            #expect(IncompleteBeta.inverse(0, a, b) == 0)
            #expect(IncompleteBeta.inverse(1, a, b) == 1)
            var previous = 0.0
            for i in 1..<1000 {
                let x = IncompleteBeta.inverse(Double(i) / 1000, a, b)
                #expect(x > previous, "beta(\(a), \(b)) quantile not increasing at \(i)/1000")
                previous = x
            }
        }
    }
}
