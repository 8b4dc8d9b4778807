#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseTestSupport
import Testing

/// `musectl ... --json`: every command takes it, prints one JSON object on
/// standard output, and reports failures (mused unreachable, a refused file,
/// a bad command line) as `{"ok": false, "error": ...}` with a non-zero exit.
@Suite struct MusectlJSONTests {
    struct Run { let status: Int32; let stdout: String; let stderr: String }

    /// musectl with standard output and standard error apart; a run still
    /// going after 60 s is killed (status −1).
    static func musectl(_ arguments: [String], input: String? = nil) throws -> Run {
        let child = try Subprocess(ControlSocketTests.musectl, arguments, input: input.map { Array($0.utf8) },
                                   separateErrors: true)
        let ended = child.wait(seconds: 60)
        if ended == nil { child.kill(); child.waitForExit() }
        return Run(status: ended?.status ?? -1, stdout: child.output, stderr: child.errors)
    }

    /// The run's standard output as one JSON object.
    static func object(_ run: Run) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
                     "not one JSON object: \(run.stdout) (stderr: \(run.stderr))")
    }

    /// A failure: non-zero exit, `ok` false and the error's text on standard output.
    static func expectFailure(_ arguments: [String], says text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try musectl(arguments)
        let json = try object(run)
        #expect(run.status != 0, "\(arguments) exited 0", sourceLocation: sourceLocation)
        #expect(json["ok"] as? Bool == false && (json["error"] as? String ?? "").contains(text),
                "\(arguments): \(run.stdout)", sourceLocation: sourceLocation)
    }

    static let commands: [[String]] = [
        ["predict"], ["transform", "fit"], ["transform", "apply"], ["snapshot", "build"], ["snapshot", "inspect"],
        ["snapshot", "verify"], ["status"], ["swap"], ["rollback"], ["tenants"], ["reload"], ["drain"], ["swap-incoming"],
        ["candidate", "add"], ["promote"], ["sketch", "export"],
    ]

    @Test func everyCommandTakesJSON() throws {
        for command in Self.commands {
            let help = Harness.run(ControlSocketTests.musectl, command + ["--help"])
            #expect(help.status == 0 && help.output.contains("--json"), "musectl \(command.joined(separator: " ")) --help: \(help.output)")
        }
    }

    @Test func withoutMusedEveryDaemonCommandAnswersAJSONError() throws {
        let nowhere = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: nowhere) }
        let incoming = nowhere + "/incoming"
        try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: SnapshotSwapTests.files.gen1, toPath: incoming + "/gen1.snapshot")
        for command in [["status"], ["rollback"], ["tenants"], ["reload"], ["drain", "acme"],
                        ["swap", SnapshotSwapTests.files.gen1], ["swap-incoming", incoming],
                        ["candidate", "add", SnapshotSwapTests.files.gen1, "--name", "c"], ["promote", "c"],
                        ["promote", "c", "-o", nowhere + "/promoted.snapshot"]] {
            try Self.expectFailure(command + ["--runtime-dir", nowhere, "--json"], says: "\(nowhere)/control.sock")
        }
        // Text without --json, as before.
        let text = try Self.musectl(["status", "--runtime-dir", nowhere])
        #expect(text.status != 0 && text.stdout.isEmpty && text.stderr.hasPrefix("Error: "), "\(text)")
    }

    @Test func fileCommandsAnswerJSONAndTheirFailuresToo() throws {
        let work = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let models = Harness.packageRoot.appending(path: "Tests/MuseScoringTests/Fixtures/models").path
        let model = models + "/nan_missing.lgb.txt", rows = models + "/nan_missing.lgb.rows.csv"

        // predict: the same scores as the text, as numbers.
        let text = try Self.musectl(["predict", "--model", model, "--input", rows])
        let json = try Self.musectl(["predict", "--model", model, "--input", rows, "--json"])
        let predicted = try Self.object(json)
        #expect(predicted["ok"] as? Bool == true && predicted["kind"] as? String == "probability")
        // Bit for bit (JSONDecoder: JSONSerialization on Linux rounds some doubles).
        struct Scores: Decodable { let scores: [Double] }
        let scores = try JSONDecoder().decode(Scores.self, from: Data(json.stdout.utf8)).scores
        #expect(scores == text.stdout.split(separator: "\n").map { Double($0)! })
        try Self.expectFailure(["predict", "--model", work + "/none.txt", "--input", rows, "--json"], says: "No such file")
        // A command line that does not parse is answered in JSON too.
        try Self.expectFailure(["predict", "--input", rows, "--json"], says: "--model")

        // transform fit, then apply, through files and standard input.
        let sample = (0..<200).map { "\(Double($0) / 200)" }.joined(separator: "\n") + "\n"
        try sample.write(toFile: work + "/scores.txt", atomically: true, encoding: .utf8)
        let fit = try Self.object(try Self.musectl(["transform", "fit", work + "/scores.txt", "-o", work + "/maps.txt", "--json"]))
        #expect(fit["ok"] as? Bool == true && fit["samples"] as? Int == 200 && fit["output"] as? String == work + "/maps.txt",
                "\(fit)")
        let inline = try Self.object(try Self.musectl(["transform", "fit", "--json"], input: sample))
        #expect((inline["maps"] as? String)?.isEmpty == false, "\(inline)")
        let applied = try Self.object(try Self.musectl(["transform", "apply", "--maps", work + "/maps.txt", "--json"],
                                                       input: "0.5\nnan\n"))
        let mapped = try #require(applied["scores"] as? [[String: Any]])
        #expect(mapped.count == 2 && mapped[0]["line"] as? Int == 1 && (mapped[0]["score"] as? Double).map { abs($0 - 0.5) < 0.01 } == true
                && mapped[1]["score"] as? String == "nan", "\(applied)")
        try Self.expectFailure(["transform", "fit", "--json"], says: "no scores to fit")

        // snapshot build, inspect and verify; a damaged file refused.
        let manifest = Harness.packageRoot.appending(path: "examples/generation/manifest.toml").path
        let built = try Self.object(try Self.musectl(["snapshot", "build", manifest, "-o", work + "/g.snapshot", "--json"]))
        #expect(built["ok"] as? Bool == true && built["generation"] as? Int == 1 && (built["canaries"] as? Int ?? 0) > 0, "\(built)")
        let inspected = try Self.object(try Self.musectl(["snapshot", "inspect", work + "/g.snapshot", "--json"]))
        #expect(inspected["ok"] as? Bool == true && inspected["formatVersion"] as? Int == 1)
        let verified = try Self.object(try Self.musectl(["snapshot", "verify", work + "/g.snapshot", "--json"]))
        #expect(verified["ok"] as? Bool == true && verified["generation"] as? Int == 1
                && (verified["milliseconds"] as? [String: Double])?["decode"] != nil, "\(verified)")
        _ = FileManager.default.createFile(atPath: work + "/junk.snapshot", contents: Data(repeating: 7, count: 100))
        try Self.expectFailure(["snapshot", "verify", work + "/junk.snapshot", "--json"], says: "refused")
        try Self.expectFailure(["snapshot", "inspect", work + "/junk.snapshot", "--json"], says: "junk.snapshot")
        try Self.expectFailure(["snapshot", "build", work + "/none.toml", "-o", work + "/x.snapshot", "--json"], says: "none.toml")
    }

    /// Against a live mused: the answer and a refusal, each one JSON object.
    @Test func daemonCommandsAnswerOneObjectAndARefusalIsOne() throws {
        let daemon = try DaemonUnderTest(tenants: ["js-a::1:32", "js-b::1:32"])
        let dir = daemon.runtimeDirectory
        let status = try Self.object(try Self.musectl(["status", "--runtime-dir", dir, "--json"]))
        #expect(status["ok"] as? Bool == true && (status["status"] as? [String: Any])?["tenants"] as? [String] == ["js-a", "js-b"])
        let refused = try Self.musectl(["rollback", "--runtime-dir", dir, "--json"])
        let answer = try Self.object(refused)
        #expect(refused.status != 0 && answer["ok"] as? Bool == false
                && (answer["error"] as? String ?? "").contains("no previous generation"), "\(refused)")
        let empty = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let none = try Self.object(try Self.musectl(["swap-incoming", empty, "--runtime-dir", dir, "--json"]))
        #expect(none["ok"] as? Bool == true && (none["files"] as? [Any])?.isEmpty == true)
        #expect(daemon.stop() == 0)
    }
}
