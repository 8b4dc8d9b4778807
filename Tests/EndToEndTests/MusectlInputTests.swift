#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// musectl given files it cannot use: each command names the file and the
/// system's reason, and none waits on a FIFO; a manifest's numbers out of
/// range are refused by the real executable, never trapped on.
@Suite struct MusectlInputTests {
    struct Outcome { let exitStatus: Int32?; let output: String }

    /// Runs musectl; a run that has not ended after 15 s counts as a hang
    /// (nil status), as does one ended by a signal.
    static func musectl(_ arguments: [String]) throws -> Outcome {
        let child = try Child(ControlSocketTests.musectl, arguments)
        let status = child.wait(seconds: 15)
        let exited = child.exited == true
        return Outcome(exitStatus: exited ? status : nil, output: child.output)
    }

    /// A private directory with a FIFO nobody writes, a directory, and a
    /// valid model and rows file.
    final class Workspace {
        let directory: String
        init() throws {
            var template = Array("/tmp/musectl-input-XXXXXX".utf8CString)
            directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
            #expect(mkfifo(directory + "/fifo", 0o600) == 0)
            #expect(mkdir(directory + "/dir", 0o700) == 0)
            let fixtures = Harness.packageRoot.appending(path: "Tests/MuseScoringTests/Fixtures/models").path
            try FileManager.default.copyItem(atPath: fixtures + "/nan_missing.lgb.txt", toPath: directory + "/model.txt")
            try FileManager.default.copyItem(atPath: fixtures + "/nan_missing.lgb.rows.csv", toPath: directory + "/rows.csv")
        }
        func path(_ name: String) -> String { directory + "/" + name }
        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Each command with `FILE` standing for the input under test.
    static func commands(_ w: Workspace) -> [[String]] {
        [
            ["predict", "--model", "FILE", "--input", w.path("rows.csv")],
            ["predict", "--model", w.path("model.txt"), "--input", "FILE"],
            ["transform", "fit", "FILE"],
            ["transform", "apply", "--maps", "FILE"],
            ["snapshot", "build", "FILE", "-o", w.path("out.muse")],
            ["snapshot", "verify", "FILE"],
            ["snapshot", "inspect", "FILE"],
        ]
    }

    @Test func unreadableInputsAreNamedWithTheReason() throws {
        let w = try Workspace()
        let cases = [("nope.json", "No such file or directory"), ("dir", "Is a directory"),
                     ("fifo", "is a FIFO, not a regular file")]
        for command in Self.commands(w) {
            for (name, reason) in cases {
                let file = w.path(name)
                let arguments = command.map { $0 == "FILE" ? file : $0 }
                let run = try Self.musectl(arguments)
                #expect(run.exitStatus == 1, "\(arguments.joined(separator: " ")): hung or crashed: \(run.output)")
                #expect(run.output.contains("\(file): cannot read: \(reason)"),
                        "\(arguments.joined(separator: " ")): \(run.output)")
            }
        }
    }

    @Test(.enabled(if: getuid() != 0, "root reads any file"))
    func anUnreadableFileSaysPermissionDenied() throws {
        let w = try Workspace()
        let file = w.path("secret.txt")
        _ = FileManager.default.createFile(atPath: file, contents: Data("0.5\n".utf8), attributes: [.posixPermissions: 0])
        for command in Self.commands(w) {
            let arguments = command.map { $0 == "FILE" ? file : $0 }
            let run = try Self.musectl(arguments)
            #expect(run.exitStatus == 1 && run.output.contains("\(file): cannot read: Permission denied"),
                    "\(arguments.joined(separator: " ")): \(run.output)")
        }
    }

    /// The real executable, as an operator runs it: a refusal with the
    /// manifest's line and key and exit status 1, not a trap.
    @Test func snapshotBuildRefusesOutOfRangeNumbersWithoutTrapping() throws {
        let w = try Workspace()
        let manifest = w.path("manifest.toml")
        for (generation, id, line, expected) in [
            ("1", "4294967296", 5, "key 'intents.login.id': 4294967296 is out of range 0…4095"),
            ("1", "-1", 5, "key 'intents.login.id': -1 is out of range 0…4095"),
            ("-1", "1", 1, "key 'generation': -1 is out of range 1…9223372036854775807"),
        ] {
            try """
                generation = \(generation)
                [models.m]
                file = "model.txt"
                [intents.login]
                id = \(id)
                features = ["f_num_0", "f_num_1", "f_num_2", "f_num_3", "f_num_4"]
                [predictors.p]
                models = ["m"]
                [[routes]]
                tenant = "t1"
                intent = "login"
                predictor = "p"
                """.write(toFile: manifest, atomically: true, encoding: .utf8)
            let run = try Self.musectl(["snapshot", "build", manifest, "-o", w.path("out.muse")])
            #expect(run.exitStatus == 1, "generation \(generation), id \(id): \(run.output)")
            #expect(run.output.contains("\(manifest):\(line): \(expected)"), "\(run.output)")
        }
    }
}
