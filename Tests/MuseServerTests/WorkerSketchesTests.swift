import MuseIPC
import MuseScoring
import Testing
@testable import MuseServer

/// A worker's sketch cells across generation changes: keyed by tenant,
/// predictor name and level-1 fingerprint, so a generation that keeps a
/// predictor keeps counting into its sketch.
struct WorkerSketchesTests {
    static func generation(_ id: UInt64, primary: String, shadows: [String], model: [String: Double] = [:]) throws -> Generation {
        var builder = RoutingTableBuilder()
        for name in Set([primary] + shadows) {
            try builder.addModel(name, ShadowGateTests.model(model[name] ?? 0))
            try builder.addPredictor(name, members: [(model: name, weight: 1)])
        }
        for tenant in ["t1", "t2"] { try builder.route(tenant: tenant, intent: "pay", to: primary, shadows: shadows) }
        return try Generation(id: GenerationID(id), routing: builder.build(), intents: ShadowGateTests.intents, origin: "test")
    }

    static func index(_ g: Generation, _ name: String) -> PredictorIndex { g.routing.predictorIndex(named: name)! }

    static func count(_ cells: WorkerSketches, _ tenant: String, _ predictor: String) -> UInt64? {
        cells.all.first { $0.cell.key.tenant == tenant && $0.cell.key.predictor == predictor }.map { $0.cell.read().count }
    }

    @Test func alertsAreCountedPerThresholdAndFollowTheConfiguration() throws {
        let cells = WorkerSketches()
        let g = try Self.generation(1, primary: "old", shadows: ["cand"])
        let serving = Serving(generation: g, tenants: ["t1", "t2"])
        let table = cells.table(for: serving, thresholds: [[0.9, 0.99], []])
        let old = Self.index(g, "old"), cand = Self.index(g, "cand")
        for score in [0.5, 0.9, 0.95, 0.99, 1.0, .nan] { table.record(tenant: 0, predictor: old, raw: 0.1, score: score) }
        table.record(tenant: 0, predictor: cand, raw: 0.1, score: 0.995)
        table.record(tenant: 1, predictor: old, raw: 0.1, score: 1.0)  // t2 declares none
        func totals() -> [String: UInt64] {
            Dictionary(uniqueKeysWithValues: cells.alertTotals().map { ("\($0.tenant)/\($0.predictor)/\($0.threshold)", $0.count) })
        }
        #expect(totals() == ["t1/old/0.9": 4, "t1/old/0.99": 2, "t1/cand/0.9": 1, "t1/cand/0.99": 1])
        // A reload changes t1's thresholds: the kept one counts on, the dropped one goes, the new one starts.
        let next = cells.table(for: serving, thresholds: [[0.99, 0.999], [0.5]])
        next.record(tenant: 0, predictor: old, raw: 0.1, score: 0.9995)
        next.record(tenant: 1, predictor: old, raw: 0.1, score: 0.6)
        #expect(totals() == ["t1/old/0.99": 3, "t1/old/0.999": 1, "t1/cand/0.99": 1, "t1/cand/0.999": 0,
                             "t2/old/0.5": 1, "t2/cand/0.5": 0])
    }

    @Test func aPredictorKeptByTheNextGenerationKeepsItsSketch() throws {
        let cells = WorkerSketches()
        let g1 = try Self.generation(1, primary: "old", shadows: ["cand"])
        let t1 = cells.table(for: Serving(generation: g1, tenants: ["t1", "t2"]))
        for i in 0..<100 { t1.record(tenant: 0, predictor: Self.index(g1, "old"), raw: Double(i) / 100, score: 0.5) }
        for i in 0..<40 { t1.record(tenant: 1, predictor: Self.index(g1, "cand"), raw: Double(i) / 40, score: 0.5) }
        t1.record(tenant: 1, predictor: Self.index(g1, "cand"), raw: .nan, score: .nan)
        // Out of range: ignored, never a crash.
        t1.record(tenant: 9, predictor: 0, raw: 0.5, score: 0.5)
        t1.record(tenant: 0, predictor: -1, raw: 0.5, score: 0.5)
        #expect(Self.count(cells, "t1", "old") == 100 && Self.count(cells, "t2", "cand") == 40)
        #expect(cells.all.first { $0.cell.key.tenant == "t2" && $0.cell.key.predictor == "cand" }?.cell.read().nonFinite == 1)
        #expect(cells.all.count == 4)  // 2 tenants × 2 predictors
        #expect(SketchTable.maxAlerts == ConfigFile.maxAlertThresholds)

        // The candidate is promoted, a new shadow added: the promoted one counts on.
        let g2 = try Self.generation(2, primary: "cand", shadows: ["next"])
        let t2 = cells.table(for: Serving(generation: g2, tenants: ["t1", "t2"]))
        t2.record(tenant: 1, predictor: Self.index(g2, "cand"), raw: 0.9, score: 0.9)
        #expect(Self.count(cells, "t2", "cand") == 41)
        #expect(Self.count(cells, "t1", "old") == nil, "a predictor no longer served is dropped")
        #expect(Self.count(cells, "t1", "next") == 0)

        // The same name over another model is another level 1: a fresh sketch.
        let g3 = try Self.generation(3, primary: "cand", shadows: [], model: ["cand": -3])
        #expect(g3.routing.levelOneFingerprint(predictor: 0) != g2.routing.levelOneFingerprint(predictor: Self.index(g2, "cand")))
        _ = cells.table(for: Serving(generation: g3, tenants: ["t1", "t2"]))
        #expect(Self.count(cells, "t2", "cand") == 0)
    }

    @Test func aWindowRotatesItsSlicesAndForgetsTheOldest() throws {
        // 60 s in 4 slices of 15 s.
        let cells = WorkerSketches(window: .last(seconds: 60))
        let g = try Self.generation(1, primary: "old", shadows: [])
        let s: UInt64 = 1_000_000_000
        let table = cells.table(for: Serving(generation: g, tenants: ["t1"]), now: 990 * s)
        cells.rotateIfDue(table, now: 1 * s, wallNow: 1000 * s)  // starts the clock
        for _ in 0..<10 { table.record(tenant: 0, predictor: 0, raw: 0.2, score: 0.2) }
        cells.rotateIfDue(table, now: 10 * s, wallNow: 1009 * s)  // not yet due
        #expect(Self.count(cells, "t1", "old") == 10)
        cells.rotateIfDue(table, now: 16 * s, wallNow: 1015 * s)
        for _ in 0..<5 { table.record(tenant: 0, predictor: 0, raw: 0.7, score: 0.7) }
        // A table made now (a generation pick-up) counts into the current slice too.
        let picked = cells.table(for: Serving(generation: g, tenants: ["t1"]), now: 1016 * s)
        picked.record(tenant: 0, predictor: 0, raw: 0.7, score: 0.7)
        #expect(Self.count(cells, "t1", "old") == 16)
        #expect(cells.all.first?.windowStart == cells.all.first?.cell.windowStart, "no slice forgotten yet")
        for k in 2...4 { cells.rotateIfDue(table, now: UInt64(15 * k + 1) * s, wallNow: UInt64(1000 + 15 * k) * s) }
        // Back at slice 0: its 10 events are gone, slice 1's 6 remain; the window starts at slice 1.
        #expect(Self.count(cells, "t1", "old") == 6)
        #expect(cells.all.first?.windowStart == 1015 * s)
        cells.rotateIfDue(table, now: 76 * s, wallNow: 1075 * s)
        #expect(Self.count(cells, "t1", "old") == 0)
    }

    @Test func sketchWindowsParse() {
        #expect(SketchWindow(configurationText: "since-publication") == .sincePublication)
        #expect(SketchWindow(configurationText: "30m") == .last(seconds: 1800))
        #expect(SketchWindow(configurationText: "2h") == .last(seconds: 7200))
        #expect(SketchWindow(configurationText: "7d") == .last(seconds: 7 * 86_400))
        for bad in ["", "m", "30", "30x", "-5m", "59s", "8d", "0m", "99999999999999999999d", "1.5h"] {
            #expect(SketchWindow(configurationText: bad) == nil, "\(bad)")
        }
    }
}
