import Foundation
import MuseTestSupport
import Testing
@testable import MuseSnapshot

/// Fuzzing the snapshot loader below its checksums (`SnapshotMutator`):
/// every input must load or be refused with a `SnapshotError` that says
/// why, never crash, hang or allocate without bound.
///
/// The loop runs in a child process (this test binary, this test) under
/// `prlimit --as` and `timeout`: a crash or a failed allocation then fails
/// this test instead of ending the run, and an allocation of hundreds of MB
/// fails at all (the seeds load in a few MB). `MUSE_FUZZ_SECONDS=N` runs
/// for N seconds instead of a fixed number of inputs, `MUSE_FUZZ_SEED`
/// changes the seed; the child leaves the input it died on in
/// `$TMPDIR/muse-fuzz-snapshot-PID.muse`.
@Suite struct SnapshotFuzzTests {
    static let childVariable = "MUSE_SNAPSHOT_FUZZ_CHILD"
    /// The child's address space: the test binary starts in about 300 MB.
    static let addressSpace = 1 << 30

    @Test func corpusSeedsBehave() throws {
        let seeds = try SnapshotCorpus.seeds()
        #expect(seeds.filter { !$0.isRegression }.count >= 2, "the corpus needs valid seeds")
        for seed in seeds {
            let outcome = SnapshotFuzzLoop.check(seed.file)
            if seed.isRegression {
                guard case .refused(let message) = outcome else { Issue.record("\(seed.name): \(outcome)"); continue }
                print("snapshot corpus \(seed.name): \(message)")
            } else {
                #expect(outcome == .accepted, "\(seed.name): \(outcome)")
            }
        }
    }

    @Test func mutationsNeverCrashHangOrOverallocate() throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["MUSE_FUZZ_SECONDS"].flatMap(Double.init)
        let seed = environment["MUSE_FUZZ_SEED"].flatMap { UInt64($0) } ?? SnapshotFuzzLoop.defaultSeed
        if environment[Self.childVariable] != nil || !FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") {
            let loop = try SnapshotFuzzLoop(try SnapshotCorpus.seeds())
            print("snapshot fuzz: a crash leaves its input in \(SnapshotFuzzLoop.lastInputPath)")
            let report = loop.run(seconds: seconds, seed: seed)
            print(report)
            #expect(report.findings.isEmpty, "\(report.findings.prefix(5))")
            #expect(report.slowest < .seconds(5), "an input took \(report.slowest)")
            // Both sides exercised: mutations that still load, and refusals
            // of many kinds.
            #expect(report.accepted > 0 && report.refused > 0, "\(report)")
            #expect(report.messages.count >= 20, "\(report)")
            return
        }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let budget = Int(seconds ?? 0) + 120
        let child = try Subprocess("/usr/bin/prlimit",
                                   ["--as=\(Self.addressSpace)", "--", "/usr/bin/timeout", "\(budget)", me,
                                    "--testing-library", "swift-testing", "--filter",
                                    "SnapshotFuzzTests/mutationsNeverCrashHangOrOverallocate"],
                                   environment: environment.merging([Self.childVariable: "1"]) { _, new in new })
        let ended = child.waitForExit()
        let output = child.output
        let lines = output.split(separator: "\n")
        for line in lines where line.hasPrefix("snapshot fuzz") { print(line) }
        let why = ended.status == 124 ? "a timeout after \(budget) s" : "\(ended)"
        let summary = (lines.filter { $0.hasPrefix("snapshot fuzz") || $0.hasPrefix("Fatal error") || $0.contains("✘") }
                       + ["..."] + lines.suffix(10)).joined(separator: "\n")
        #expect(ended == .exited(0), "the fuzz loop's process ended with \(why):\n\(summary)")
        #expect(output.contains("snapshot fuzz:"), "\(summary)")
    }
}
