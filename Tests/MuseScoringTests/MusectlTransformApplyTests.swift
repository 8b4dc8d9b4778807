#if canImport(Glibc)
import MuseScoring
import Glibc
#endif
import Foundation
import MuseTestSupport
import Testing

/// `musectl transform apply` as an operator runs it: the real executable
/// from this build, real files, exit status and output checked. Each case
/// is a quiet surprise it used to have.
@Suite struct MusectlTransformApplyTests {
    /// musectl from the same build as this test binary.
    static var musectl: String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(filePath: me).deletingLastPathComponent().appending(path: "musectl").path
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// Runs musectl to completion (killed after 60 s: status −1), standard
    /// output and standard error apart.
    static func run(_ arguments: [String]) throws -> Result {
        let path = musectl
        #expect(FileManager.default.isExecutableFile(atPath: path), "no musectl at \(path): run swift build --build-tests first")
        let child = try Subprocess(path, arguments, separateErrors: true)
        let ended = child.wait(seconds: 60)
        if ended == nil { child.kill(); child.waitForExit() }
        return Result(status: ended?.status ?? -1, stdout: child.output, stderr: child.errors)
    }

    /// A private directory holding a fitted map file: tenants acme and shop,
    /// fitted with negatives kept at rate 0.1 (level 1).
    final class Workspace {
        let directory: String
        var maps: String { directory + "/maps.txt" }

        init(fitArguments: [String] = ["--negative-sampling-rate", "0.1"]) throws {
            var template = Array("/tmp/musectl-test-XXXXXX".utf8CString)
            directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
            var rng = SplitMix64(seed: 7)
            var lines = ""
            for tenant in ["acme", "shop"] {
                for _ in 0..<200 { lines += "\(tenant) \(rng.uniform())\n" }
            }
            try write("fit.txt", lines)
            let fit = try MusectlTransformApplyTests.run(
                ["transform", "fit", "--min-samples", "50", "--knots", "17", "-o", maps] + fitArguments + [directory + "/fit.txt"])
            #expect(fit.status == 0, "fit failed: \(fit.stderr)")
        }

        func write(_ name: String, _ text: String) throws {
            try text.write(toFile: directory + "/" + name, atomically: false, encoding: .utf8)
        }
        func path(_ name: String) -> String { directory + "/" + name }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test func knownTenantsAreMapped() throws {
        let w = try Workspace()
        try w.write("in.txt", "acme 0.5\nshop 0.5\n")
        let r = try Self.run(["transform", "apply", "--maps", w.maps, "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("acme ") && lines[1].hasPrefix("shop "), "\(r.stdout)")
    }

    /// A misspelt tenant used to get the pooled map with exit status 0.
    @Test func unknownTenantIsRefused() throws {
        let w = try Workspace()
        try w.write("in.txt", "acme 0.5\nacmee 0.5\n")
        let r = try Self.run(["transform", "apply", "--maps", w.maps, "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty, "nothing is printed for a run that fails: \(r.stdout)")
        #expect(r.stderr.contains("'acmee'") && r.stderr.contains("acme, shop") && r.stderr.contains("--pooled"), "\(r.stderr)")

        let flag = try Self.run(["transform", "apply", "--maps", w.maps, "--tenant", "nobody", "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(flag.status != 0)

        // With --pooled the operator asks for the pooled map, and gets it.
        let pooled = try Self.run(["transform", "apply", "--maps", w.maps, "--pooled", "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(pooled.status == 0, "\(pooled.stderr)")
        #expect(pooled.stdout.split(separator: "\n").count == 2)
    }

    /// Lines naming no tenant, with no --tenant, in a file fitted per tenant:
    /// which map is meant is a guess, so it is refused unless --pooled.
    @Test func untenantedScoresNeedPooledWhenTenantsExist() throws {
        let w = try Workspace()
        try w.write("in.txt", "0.5\n")
        let r = try Self.run(["transform", "apply", "--maps", w.maps, "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--tenant") && r.stderr.contains("--pooled"), "\(r.stderr)")
        let ok = try Self.run(["transform", "apply", "--maps", w.maps, "--pooled", "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// The level-1 setting is part of the map: other options used to be
    /// accepted and gave scores on the wrong scale.
    @Test(arguments: [[String](), ["--negative-sampling-rate", "0.2"], ["--training-prior", "0.1", "--serving-prior", "0.01"]])
    func differentLevelOneIsRefused(_ options: [String]) throws {
        let w = try Workspace()
        try w.write("in.txt", "acme 0.5\n")
        let r = try Self.run(["transform", "apply", "--maps", w.maps] + options + [w.path("in.txt")])
        #expect(r.status != 0)
        #expect(r.stderr.contains("0.1") && r.stderr.contains("fitted"), "\(r.stderr)")
    }

    @Test func levelOneIsRecordedInTheMapFile() throws {
        let w = try Workspace()
        let text = try String(contentsOfFile: w.maps, encoding: .utf8)
        #expect(text.contains("\ncorrection 0.1\n"), "\(text)")
        let plain = try Workspace(fitArguments: [])
        let plainText = try String(contentsOfFile: plain.maps, encoding: .utf8)
        #expect(plainText.contains("\ncorrection 1.0\n"), "\(plainText)")
        try plain.write("in.txt", "acme 0.5\n")
        let r = try Self.run(["transform", "apply", "--maps", plain.maps, plain.path("in.txt")])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// The docs say NaN maps to NaN; apply used to reject the line.
    @Test func nanMapsToNaN() throws {
        let w = try Workspace()
        try w.write("in.txt", "acme nan\nacme 0.5\nshop NaN\n")
        let r = try Self.run(["transform", "apply", "--maps", w.maps, "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "\(r.stdout)")
        #expect(lines.first == "acme nan" && lines.last == "shop nan", "\(r.stdout)")
        #expect(Double(lines[1].dropFirst(5))?.isFinite == true, "\(r.stdout)")
    }

    /// Score and map files saved with Windows line ends work like any other.
    @Test func crlfFiles() throws {
        let w = try Workspace()
        let maps = try String(contentsOfFile: w.maps, encoding: .utf8).replacingOccurrences(of: "\n", with: "\r\n")
        try w.write("maps-crlf.txt", maps)
        try w.write("in.txt", "acme 0.5\r\nshop 0.25\r\n")
        let r = try Self.run(["transform", "apply", "--maps", w.path("maps-crlf.txt"), "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").count == 2, "\(r.stdout)")
    }

    /// A missing file is named, with the system's reason, not Foundation's
    /// generic "couldn't be opened" text.
    @Test func missingFilesAreNamed() throws {
        let w = try Workspace()
        try w.write("in.txt", "acme 0.5\n")
        let noMaps = w.path("no-such-maps.txt")
        let r = try Self.run(["transform", "apply", "--maps", noMaps, "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(noMaps): cannot read: No such file or directory"), "\(r.stderr)")
        #expect(!r.stderr.contains("couldn’t") && !r.stderr.contains("couldn't"), "\(r.stderr)")

        let noScores = w.path("no-such-scores.txt")
        let s = try Self.run(["transform", "apply", "--maps", w.maps, "--negative-sampling-rate", "0.1", noScores])
        #expect(s.status != 0)
        #expect(s.stderr.contains("\(noScores): cannot read: No such file or directory"), "\(s.stderr)")

        let dir = try Self.run(["transform", "apply", "--maps", w.directory, "--negative-sampling-rate", "0.1", w.path("in.txt")])
        #expect(dir.status != 0)
        #expect(dir.stderr.contains("\(w.directory): cannot read: Is a directory"), "\(dir.stderr)")
    }
}
