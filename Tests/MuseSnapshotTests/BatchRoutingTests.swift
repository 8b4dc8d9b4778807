import Testing
import MuseScoring
@testable import MuseSnapshot

/// A run of events scored in one call through the routing table gives every
/// event the bits `score` gives it alone: every route of both example
/// generations (single models, a blend, LightGBM, XGBoost-fitted maps, a
/// logistic model, categorical splits), every batch size from 1 to 64, the
/// shadows too.
@Suite struct BatchRoutingTests {
    @Test(arguments: [1, 2])
    func aBatchScoresEachEventAsScoringItAloneWould(generation: Int) throws {
        let contents = generation == 1 ? Examples.generation1 : Examples.generation2
        let table = try contents.routingTable()
        for route in contents.routes {
            let t = try #require(table.tenantID(route.tenant)), i = try #require(table.intentID(route.intent))
            let intent = try #require(contents.intents.first { $0.name == route.intent })
            let width = intent.featureNames.count
            let rows = Canaries.generatedFeatures(for: intent, count: 64, seed: 7).flatMap { $0 }
            var raw = [Double](repeating: 0, count: 64), scores = raw, work = raw
            for n in 1...64 {
                let outcome = rows.withUnsafeBufferPointer { r in
                    raw.withUnsafeMutableBufferPointer { rawOut in
                        scores.withUnsafeMutableBufferPointer { scoreOut in
                            work.withUnsafeMutableBufferPointer { w in
                                table.score(tenant: t, intent: i, rows: UnsafeBufferPointer(rebasing: r[0..<n * width]), count: n,
                                            raw: rawOut, scores: scoreOut, work: w)
                            }
                        }
                    }
                }
                guard case .scored(let predictor) = outcome else { Issue.record("\(route.tenant)/\(route.intent): \(outcome)"); continue }
                for k in 0..<n {
                    let alone = rows.withUnsafeBufferPointer {
                        table.score(tenant: t, intent: i, features: UnsafeBufferPointer(rebasing: $0[k * width..<(k + 1) * width]))
                    }
                    guard case .scored(let s) = alone else { Issue.record("\(alone)"); continue }
                    #expect(s.predictor == predictor && s.raw.bitPattern == raw[k].bitPattern && s.score.bitPattern == scores[k].bitPattern,
                            "\(route.tenant)/\(route.intent), batch of \(n), row \(k): \(s.raw)/\(s.score) alone, \(raw[k])/\(scores[k]) batched")
                }
                // The shadows, the same way.
                var batched: [[UInt64]] = []
                rows.withUnsafeBufferPointer { r in
                    raw.withUnsafeMutableBufferPointer { rawOut in
                        scores.withUnsafeMutableBufferPointer { scoreOut in
                            work.withUnsafeMutableBufferPointer { w in
                                table.scoreShadows(tenant: t, intent: i, rows: UnsafeBufferPointer(rebasing: r[0..<n * width]), count: n,
                                                   raw: rawOut, scores: scoreOut, work: w) { _, rs, ss in
                                    batched.append(rs.map(\.bitPattern) + ss.map(\.bitPattern))
                                }
                            }
                        }
                    }
                }
                var alone: [[UInt64]] = []
                for k in 0..<n {
                    var j = 0
                    rows.withUnsafeBufferPointer {
                        table.scoreShadows(tenant: t, intent: i, features: UnsafeBufferPointer(rebasing: $0[k * width..<(k + 1) * width])) { s in
                            if alone.count <= j { alone.append([UInt64](repeating: 0, count: 2 * n)) }
                            alone[j][k] = s.raw.bitPattern
                            alone[j][n + k] = s.score.bitPattern
                            j += 1
                        }
                    }
                }
                #expect(batched == alone, "\(route.tenant)/\(route.intent) shadows, batch of \(n)")
            }
        }
    }
}
