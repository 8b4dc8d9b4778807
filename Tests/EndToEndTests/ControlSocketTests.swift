#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// musectl against a real mused's control socket.
@Suite(.serialized)
struct ControlSocketTests {
    /// musectl from this test binary's own build, whichever mused runs (the
    /// sanitizer stages build only mused).
    static var musectl: String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(filePath: me).deletingLastPathComponent().appending(path: "musectl").path
    }

    @Test func statusReportsTheServingGenerationAndRefusalsExitNonZero() throws {
        let daemon = try DaemonUnderTest(tenants: ["acme::2:64", "globex::2:64"])
        let status = Harness.run(Self.musectl, ["status", "--runtime-dir", daemon.runtimeDirectory, "--json"])
        #expect(status.status == 0, "\(status.output)")
        let json = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
        let body = json?["status"] as? [String: Any]
        #expect((body?["tenants"] as? [String]) == ["acme", "globex"])
        #expect(((body?["serving"] as? [String: Any])?["id"] as? Int) == 1)
        let rollback = Harness.run(Self.musectl, ["rollback", "--runtime-dir", daemon.runtimeDirectory])
        #expect(rollback.status != 0 && rollback.output.contains("no previous generation"), "\(rollback.output)")
        var info = stat()
        #expect(stat("\(daemon.runtimeDirectory)/control.sock", &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(daemon.stop() == 0)
    }

    @Test(.enabled(if: getuid() == 0, "switching to an unprivileged uid needs root"))
    func unprivilegedPeersAreRefused() throws {
        let daemon = try DaemonUnderTest(tenants: ["acme::2:64"])
        let outsider = Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                        Self.musectl, "status", "--runtime-dir", daemon.runtimeDirectory])
        #expect(outsider.status != 0 && outsider.output.contains("Permission denied"), "\(outsider.output)")
        // Even with the socket file opened up, the kernel-reported credentials decide.
        chmod("\(daemon.runtimeDirectory)/control.sock", 0o666)
        let sneaky = Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                      Self.musectl, "status", "--runtime-dir", daemon.runtimeDirectory])
        #expect(sneaky.status != 0 && sneaky.output.contains("uid 65534 may not operate mused"), "\(sneaky.output)")
        #expect(daemon.stop() == 0)
    }
}
