#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Live score sketches through the real commands: C clients stream events
/// to a real mused, `musectl sketch export` writes its sketches, and
/// `musectl transform fit --sketches` fits maps from one host's file or from
/// two hosts' files merged.
@Suite(.serialized)
struct SketchExportTests {
    static var musectl: String { ControlSocketTests.musectl }

    static func json(_ output: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
    }

    /// `sketch export --json`'s events per (tenant, predictor), of entries that counted any.
    static func export(_ daemon: DaemonUnderTest, to file: String) throws -> [String: UInt64] {
        let run = Harness.run(musectl, ["sketch", "export", "-o", file, "--runtime-dir", daemon.runtimeDirectory, "--json"])
        try #require(run.status == 0, "\(run.output)")
        let entries = try #require(try json(run.output)["entries"] as? [[String: Any]], "\(run.output)")
        var events: [String: UInt64] = [:]
        for e in entries {
            let n = (e["events"] as? NSNumber)?.uint64Value ?? 0
            if n > 0 { events["\(e["tenant"]!)/\(e["predictor"]!)", default: 0] += n }
        }
        return events
    }

    static func stream(_ daemon: DaemonUnderTest, _ tenant: String, _ count: Int) throws {
        let client = try daemon.client("stream", tenant, ["1", "\(count)"])
        #expect(client.wait(seconds: 60) == 0, "\(client.output)")
    }

    @Test func exportCountsEveryEventAndTwoHostsMergeIntoOneFit() throws {
        let a = try DaemonUnderTest(tenants: ["sk-a::1:64", "sk-b::1:64"], arguments: ["--workers", "2"])
        try Self.stream(a, "sk-a", 3000)
        try Self.stream(a, "sk-b", 1200)
        let fileA = a.runtimeDirectory + ".sketches"
        defer { unlink(fileA) }
        let countsA = try Self.export(a, to: fileA)
        // The built-in generation answers the test client's intent with one predictor.
        #expect(countsA.count == 2, "\(countsA)")
        let predictor = try #require(countsA.keys.first { $0.hasPrefix("sk-a/") }).dropFirst(5)
        #expect(countsA["sk-a/\(predictor)"] == 3000 && countsA["sk-b/\(predictor)"] == 1200, "\(countsA)")

        // A second host: its sketches of the same predictor add to the first's.
        let b = try DaemonUnderTest(tenants: ["sk-a::1:64"])
        try Self.stream(b, "sk-a", 500)
        let fileB = b.runtimeDirectory + ".sketches"
        defer { unlink(fileB) }
        #expect(try Self.export(b, to: fileB) == ["sk-a/\(predictor)": 500])

        let maps = a.runtimeDirectory + ".maps"
        defer { unlink(maps) }
        let fit = Harness.run(Self.musectl, ["transform", "fit", "--sketches", fileA, fileB, "--min-samples", "1000",
                                             "--knots", "101", "-o", maps, "--json"])
        try #require(fit.status == 0, "\(fit.output)")
        let result = try Self.json(fit.output)
        #expect(result["predictor"] as? String == String(predictor), "\(fit.output)")
        #expect((result["samples"] as? NSNumber)?.intValue == 3000 + 1200 + 500, "\(fit.output)")
        let tenants = try #require(result["tenants"] as? [[String: String]])
        #expect(tenants.contains { $0["tenant"] == "sk-a" && $0["origin"] == "fitted on its own 3500 scores" }, "\(tenants)")
        #expect(tenants.contains { $0["tenant"] == "sk-b" && $0["origin"] == "fitted on its own 1200 scores" }, "\(tenants)")
        // The map file is the one 'transform apply' reads.
        let text = try String(contentsOfFile: maps, encoding: .utf8)
        #expect(text.hasPrefix("muse-score-maps 1\n") && text.contains("tenant sk-a\n") && text.contains("samples 3500\n"))
        let scores = a.runtimeDirectory + ".scores"
        defer { unlink(scores) }
        try "sk-a 0.5\nsk-b 0.01\n".write(toFile: scores, atomically: true, encoding: .utf8)
        // (It warns that the maps record no level-1 setting: a sketch holds scores after mused's level 1.)
        let apply = Harness.run(Self.musectl, ["transform", "apply", "--maps", maps, "--predictor", String(predictor), scores])
        let mapped = apply.output.split(separator: "\n").filter { !$0.contains("warning") }.compactMap { Double($0.split(separator: " ").last ?? "") }
        #expect(apply.status == 0 && mapped.count == 2 && mapped.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(apply.output)")

        // A damaged file is refused by name, before anything is fitted.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fileB)))
        bytes[bytes.count - 3] ^= 0x10
        let damaged = b.runtimeDirectory + ".damaged"
        defer { unlink(damaged) }
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        let refused = Harness.run(Self.musectl, ["transform", "fit", "--sketches", fileA, damaged])
        #expect(refused.status != 0 && refused.output.contains(damaged) && refused.output.contains("checksum mismatch"),
                "\(refused.output)")
        #expect(a.stop() == 0 && b.stop() == 0)
    }

    /// `alert_thresholds` from the configuration file: a scrape carries
    /// muse_alerts_total per threshold beside muse_events_total, no more
    /// alerts than events, the higher threshold no more than the lower; a
    /// reload that changes the thresholds brings the new series.
    @Test func alertsTotalAppearsWithTheConfiguredThresholds() throws {
        let port = MetricsEndpointTests.freePort()
        let dir = Harness.runtimeDirectory()
        let config = dir + ".toml"
        func write(_ thresholds: String) throws {
            try "workers = 1\nmetrics_address = \"127.0.0.1:\(port)\"\n\n[[tenant]]\nname = \"al-a\"\nchannels = 1\nring_depth = 64\nalert_thresholds = \(thresholds)\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write("[0.5, 0.9]")
        defer { unlink(config) }
        let daemon = try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])
        try Self.stream(daemon, "al-a", 2000)
        func alerts(_ s: [String: Double]) -> [String: Double] { s.filter { $0.key.hasPrefix("muse_alerts_total{") } }
        let samples = try MetricsEndpointTests.scrape(port: port) { alerts($0).values.reduce(0, +) > 0 }
        let found = alerts(samples)
        // Summed over the predictors: each event is scored by its intent's one.
        func total(_ threshold: String) -> (key: String, value: Double)? {
            let series = found.filter { $0.key.contains(#"threshold="\#(threshold)""#) && $0.key.contains(#"tenant="al-a""#) }
            return series.isEmpty ? nil : (series.keys.sorted()[0], series.values.reduce(0, +))
        }
        let low = total("0.5"), high = total("0.9")
        let events = samples.filter { $0.key.hasPrefix("muse_events_total{") && $0.key.contains(#"tenant="al-a""#)
            && $0.key.contains(#"status="ok""#) }.values.reduce(0, +)
        #expect(events == 2000, "\(samples.keys.sorted())")
        let lowCount = try #require(low?.value, "\(found)"), highCount = try #require(high?.value, "\(found)")
        #expect(lowCount > 0 && lowCount <= events && highCount <= lowCount, "\(found)")
        #expect(low?.key.contains("predictor=") == true)

        // A reload applies new thresholds.
        try write("[0.75]")
        #expect(Harness.run(ControlSocketTests.musectl, ["reload", "--runtime-dir", dir]).status == 0)
        try Self.stream(daemon, "al-a", 500)
        let after = try MetricsEndpointTests.scrape(port: port) { s in
            alerts(s).keys.contains { $0.contains(#"threshold="0.75""#) }
        }
        #expect(alerts(after).keys.contains { $0.contains(#"threshold="0.75""#) }, "\(alerts(after))")
        #expect(daemon.stop() == 0)
    }
}
