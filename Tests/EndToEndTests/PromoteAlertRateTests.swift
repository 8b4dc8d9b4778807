#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseClient
import MuseScoring
import MuseSnapshot
import Testing

/// What a promotion is for: after `musectl promote`, each tenant's alert
/// rate at its thresholds is the rate the reference promises, on fresh
/// traffic from the tenant's own distribution, within the sampling error
/// the promotion printed; and it matches maps fitted offline (`transform
/// fit`) on the same shadowed scores within the sketch's stated error.
@Suite(.serialized)
struct PromoteAlertRateTests {
    static let musectl = ControlSocketTests.musectl
    /// Events each tenant streams while shadowed, and again after the promotion.
    static let shadowed = 100_000, fresh = 100_000
    static let thresholds = [0.95, 0.99]

    /// A tenant's mix: components (weight, centre, spread); each event's 16
    /// features are the chosen component's centre plus uniform noise, so the
    /// candidate's scores (logistic of half their sum, minus one) follow a
    /// different mixture per tenant.
    static let mixes: [(tenant: String, components: [(Double, Double, Double)])] = [
        ("pr-a", [(1.0, 0.0, 0.4)]),
        ("pr-b", [(0.9, -0.1, 0.3), (0.1, 0.25, 0.5)]),
        ("pr-c", [(0.5, -0.2, 0.2), (0.45, 0.05, 0.3), (0.05, 0.4, 0.6)]),
    ]

    /// `count` events of a mix, flat (16 features each).
    static func events(_ components: [(Double, Double, Double)], count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        var out = [Double]()
        out.reserveCapacity(count * 16)
        for _ in 0..<count {
            var u = rng.uniform(), c = 0
            while c < components.count - 1 && u >= components[c].0 { u -= components[c].0; c += 1 }
            let (_, centre, spread) = components[c]
            for _ in 0..<16 { out.append(centre + spread * (rng.uniform() - 0.5)) }
        }
        return out
    }

    /// Scores flat `features` through one channel, `window` in flight; the
    /// completions in submission order.
    static func score(_ channel: ClientChannel, intent: UInt32, _ features: [Double]) throws -> [muse_completion] {
        let count = features.count / 16
        var out = [muse_completion](repeating: muse_completion(), count: count)
        var buffer = [muse_completion](repeating: muse_completion(), count: 64)
        var sent = 0, got = 0
        try features.withUnsafeBufferPointer { f in
            while got < count {
                while sent < count && sent - got < 48 {
                    let s = channel.submit(tag: UInt64(sent), intent: intent, features: UnsafeBufferPointer(rebasing: f[sent * 16..<(sent + 1) * 16]))
                    if s == MUSE_E_AGAIN { break }
                    try #require(s == MUSE_OK)
                    sent += 1
                }
                let (status, n) = buffer.withUnsafeMutableBufferPointer { channel.wait(into: $0, timeoutNanoseconds: 1_000_000_000) }
                if status == MUSE_E_TIMEDOUT { continue }
                try #require(status == MUSE_OK)
                for c in buffer[0..<n] { out[Int(c.tag)] = c }
                got += n
            }
        }
        return out
    }

    @Test func promotedMapsKeepEachTenantsAlertRates() throws {
        let files = PromoteTests.files
        let daemon = try PromoteTests.daemon(files.shadowed, thresholds: ["pr-a": "[0.95, 0.99]", "pr-b": "[0.95, 0.99]",
                                                                        "pr-c": "[0.95, 0.99]"])
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let table = try SnapshotLoader().load(files.shadowed).routingTable
        var offlineScores = ""
        var channels: [String: (ClientChannel, UInt32)] = [:]
        for (k, mix) in Self.mixes.enumerated() {
            let connection = try TenantConnection(runtimeDirectory: daemon.runtimeDirectory, tenant: mix.tenant)
            let intent = try connection.intent(named: "card-not-present")
            let channel = try connection.claim()
            channels[mix.tenant] = (channel, intent.id)
            let features = Self.events(mix.components, count: Self.shadowed, seed: UInt64(k + 1))
            let answers = try Self.score(channel, intent: intent.id, features)
            #expect(answers.allSatisfy { $0.status == 0 && $0.generation_id == 1 })
            // The candidate's level-1 scores of the same events, offline: what 'transform fit' fits on.
            let canaries = (0..<Self.shadowed).map {
                CanaryEvent(tenant: mix.tenant, intent: "card-not-present", features: Array(features[$0 * 16..<($0 + 1) * 16]))
            }
            for c in try Canaries.record(canaries, table: table) {
                offlineScores += "\(mix.tenant) \(c.expected[1].raw)\n"
            }
        }
        let promoted = PromoteTests.promote(daemon, ["cnp-next", "--json"])
        try #require(promoted.status == 0, "\(promoted.output)")
        let report = try #require(try PromoteTests.json(promoted.output)["promotion"] as? [String: Any])
        let tenants = try #require(report["tenants"] as? [[String: Any]])

        // Maps fitted offline on the same scores, with the promotion's knots and minimum.
        let scoreFile = scratch + "/scores.txt", mapFile = scratch + "/maps.txt"
        try offlineScores.write(toFile: scoreFile, atomically: true, encoding: .utf8)
        let fit = Harness.run(Self.musectl, ["transform", "fit", scoreFile, "--predictor", "cnp-next", "-o", mapFile,
                                             "--knots", "\(QuantileMapFitter.defaultKnots)", "--min-samples", "1000"])
        try #require(fit.status == 0, "\(fit.output)")
        let offline = try ScoreMapFile.parse(String(contentsOfFile: mapFile, encoding: .utf8), file: mapFile)

        for (k, mix) in Self.mixes.enumerated() {
            let figures = try #require(tenants.first { $0["tenant"] as? String == mix.tenant })
            #expect(figures["events"] as? Int == Self.shadowed && figures["map"] as? String == "own map", "\(figures)")
            let (channel, intent) = try #require(channels[mix.tenant])
            let answers = try Self.score(channel, intent: intent, Self.events(mix.components, count: Self.fresh, seed: UInt64(100 + k)))
            #expect(answers.allSatisfy { $0.status == 0 && $0.generation_id == 2 })
            let offlineMap = try #require(offline.map(predictor: "cnp-next", tenant: mix.tenant))
            for t in Self.thresholds {
                let p = 1 - t
                let served = Double(answers.filter { $0.score >= t }.count) / Double(Self.fresh)
                // raw_score is cnp-next's level 1 now that it answers: the offline map applies to it.
                let refit = Double(answers.filter { offlineMap.apply($0.raw_score) >= t }.count) / Double(Self.fresh)
                // The served rate misses p by the fit's sampling error, sd_fit = sqrt(p(1-p)/n) over the n
                // shadowed events (the figure the promotion printed, times p), plus the fresh sample's own
                // binomial error sqrt(p(1-p)/m) over m events; independent, so their variances add. Four
                // standard deviations: six checks, a false failure well under one in a thousand runs.
                let sdFit = (p * (1 - p) / Double(Self.shadowed)).squareRoot()
                let sd = (p * (1 - p) * (1 / Double(Self.shadowed) + 1 / Double(Self.fresh))).squareRoot()
                let printed = try #require((figures["thresholds"] as? [[String: Any]])?.first { $0["threshold"] as? Double == t })
                #expect(abs((printed["relativeError"] as? Double ?? 0) * p - sdFit) < 1e-12, "\(printed)")
                #expect(abs(served - p) <= 4 * sd, "\(mix.tenant) at \(t): served rate \(served), target \(p), 4 sd \(4 * sd)")
                // Both maps were fitted on the same events: their true rates differ by the sketch's binning
                // only, stated (docs/sketch-format.md) as at most d = 0.25 sd_fit. Judged on the same m fresh
                // events, the measured difference counts the fresh events falling between the two maps'
                // thresholds, a Poisson count of mean at most d·m: three of its standard deviations,
                // sqrt(d/m), are added.
                let d = 0.25 * sdFit, bound = d + 3 * (d / Double(Self.fresh)).squareRoot()
                #expect(abs(served - refit) <= bound, "\(mix.tenant) at \(t): sketch-fitted \(served), sample-fitted \(refit), bound \(bound)")
            }
        }
        #expect(daemon.stop() == 0)
    }
}
