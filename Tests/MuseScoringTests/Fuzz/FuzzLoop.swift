import Foundation

/// A seeded mutation loop over one target's corpus: each iteration mutates a
/// seed (spliced with another) and runs the target on it.
///
/// Bounded so it can run in every `swift test`: a fixed number of
/// iterations by default (a few seconds per target in a debug build), or
/// with `MUSE_FUZZ_SECONDS=N` each target runs for N seconds instead.
/// `MUSE_FUZZ_SEED` changes the seed (default: fixed, so a failure
/// reproduces). A crash ends the process without a report, so each input is
/// written to `lastInputPath` before it runs: after a crash that file is the
/// input to minimise and add to the corpus as `regression-*`.
struct FuzzLoop {
    static let defaultIterations = 4000
    static let defaultSeed: UInt64 = 0x4D55_5345_4655_5A5A

    let target: FuzzTarget
    let seeds: [FuzzCorpus.Seed]

    struct Report: CustomStringConvertible {
        var target: FuzzTarget
        var seed: UInt64
        var iterations = 0
        var accepted = 0
        var rejected = 0
        var messages = Set<String>()
        var slowest: Duration = .zero
        var elapsed: Duration = .zero
        var findings: [String] = []

        var description: String {
            "fuzz \(target.rawValue): \(iterations) inputs in \(elapsed) (seed \(seed)): \(accepted) accepted, \(rejected) rejected "
                + "with \(messages.count) distinct messages, slowest input \(slowest), \(findings.count) findings"
        }
    }

    static var environmentSeconds: Double? {
        ProcessInfo.processInfo.environment["MUSE_FUZZ_SECONDS"].flatMap(Double.init)
    }

    static var environmentSeed: UInt64? {
        ProcessInfo.processInfo.environment["MUSE_FUZZ_SEED"].flatMap { UInt64($0) }
    }

    var lastInputPath: String {
        FileManager.default.temporaryDirectory.appendingPathComponent("muse-fuzz-\(target.rawValue)-\(getpid()).input").path
    }

    func run(iterations: Int = defaultIterations, seconds: Double? = environmentSeconds,
             seed: UInt64 = environmentSeed ?? defaultSeed) -> Report {
        var mutator = FuzzMutator(seed: seed ^ UInt64(target.rawValue.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
        var report = Report(target: target, seed: seed)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = seconds.map { start + .milliseconds(Int($0 * 1000)) }
        var i = 0
        while deadline.map({ clock.now < $0 }) ?? (i < iterations) {
            let base = seeds[mutator.below(seeds.count)].bytes
            let other = seeds[mutator.below(seeds.count)].bytes
            let input = mutator.mutate(base, other: other)
            _ = FileManager.default.createFile(atPath: lastInputPath, contents: Data(input))
            let t0 = clock.now
            do {
                switch try target.run(input) {
                case .accepted: report.accepted += 1
                case .rejected(let message):
                    report.rejected += 1
                    if report.messages.count < 10_000 { report.messages.insert(Self.shape(message)) }
                }
            } catch {
                let kept = FileManager.default.temporaryDirectory.appendingPathComponent("muse-fuzz-\(target.rawValue)-finding-\(i).input")
                report.findings.append("input \(i), kept in \(kept.path): \(error.description)")
                _ = FileManager.default.createFile(atPath: kept.path, contents: Data(input))
            }
            report.slowest = max(report.slowest, clock.now - t0)
            i += 1
        }
        report.iterations = i
        report.elapsed = clock.now - start
        try? FileManager.default.removeItem(atPath: lastInputPath)
        return report
    }

    /// A message with its numbers blanked, to count kinds of error rather
    /// than every line number.
    static func shape(_ message: String) -> String {
        String(message.map { $0.isNumber ? "#" : $0 }.prefix(120))
    }
}
