#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Where mused keeps its state when not told, and relative directories: an
/// unprivileged user starts mused with a runtime directory alone, and
/// relative paths count from the working directory.
@Suite(.serialized)
struct DirectoryDefaultsTests {
    /// A fresh directory owned by `nobody` (65534), for mused run as that user.
    static func nobodysDirectory() -> String {
        let dir = Harness.runtimeDirectory()
        chown(dir, 65534, 65534)
        return dir
    }

    /// mused as `nobody`, through setpriv, so its pid is mused's.
    static func asNobody(_ arguments: [String]) throws -> Child {
        try Child("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", Harness.mused] + arguments)
    }

    @Test func anUnprivilegedMusedKeepsItsStateBesideItsRuntimeDirectory() throws {
        let home = Self.nobodysDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let daemon = try Self.asNobody(["--runtime-dir", "\(home)/muse-run", "--tenant", "acme::1:32"])
        try #require(daemon.waitForOutput(containing: "event=serving", seconds: 30), "\(daemon.output)")
        #expect(daemon.output.contains("state_directory=\(home)/muse-run.state"), "\(daemon.output)")
        var info = stat()
        #expect(stat("\(home)/muse-run.state", &info) == 0 && info.st_uid == 65534 && info.st_mode & 0o777 == 0o700)
        #expect(FileManager.default.fileExists(atPath: "\(home)/muse-run/acme.muse"))
        daemon.kill(SIGTERM)
        #expect(daemon.wait(seconds: 20) == 0, "\(daemon.output)")
    }

    /// Where even that cannot be made, mused says so and names --state-dir,
    /// before it makes anything.
    @Test func aStateDirectoryItCannotMakeIsNamedWithTheFlag() throws {
        let locked = Harness.runtimeDirectory() // root's, 0755: nobody may not write in it
        defer { try? FileManager.default.removeItem(atPath: locked) }
        let daemon = try Self.asNobody(["--runtime-dir", "\(locked)/run", "--tenant", "acme::1:32"])
        #expect(daemon.wait(seconds: 20) ?? 0 != 0)
        #expect(daemon.output.contains("\(locked)/run.state") && daemon.output.contains("--state-dir"), "\(daemon.output)")
        #expect(!FileManager.default.fileExists(atPath: "\(locked)/run"))
        // An explicit one that cannot be made is named with the flag too.
        let home = Self.nobodysDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let explicit = try Self.asNobody(["--runtime-dir", "\(home)/run", "--state-dir", "\(locked)/state", "--tenant", "acme::1:32"])
        #expect(explicit.wait(seconds: 20) ?? 0 != 0)
        #expect(explicit.output.contains("\(locked)/state") && explicit.output.contains("--state-dir"), "\(explicit.output)")
        #expect(!FileManager.default.fileExists(atPath: "\(home)/run"))
    }

    @Test func relativeDirectoriesCountFromTheWorkingDirectory() throws {
        let work = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let daemon = try Child("/bin/sh", ["-c", #"cd "$0" && exec "$@""#, work, Harness.mused,
                                           "--runtime-dir", "run", "--state-dir", "./state/../state", "--tenant", "acme::1:32"])
        try #require(daemon.waitForOutput(containing: "event=serving", seconds: 30), "\(daemon.output)")
        #expect(daemon.output.contains("path=\(work)/run/acme.muse"), "\(daemon.output)")
        #expect(daemon.output.contains("state_directory=\(work)/state"), "\(daemon.output)")
        #expect(FileManager.default.fileExists(atPath: "\(work)/state"))
        // musectl finds it by the same relative path.
        let status = Harness.run("/bin/sh", ["-c", #"cd "$0" && exec "$@""#, work, ControlSocketTests.musectl,
                                             "status", "--runtime-dir", "run"])
        #expect(status.status == 0 && status.output.contains("runtime directory \(work)/run"), "\(status.output)")
        daemon.kill(SIGTERM)
        #expect(daemon.wait(seconds: 20) == 0, "\(daemon.output)")
    }
}
