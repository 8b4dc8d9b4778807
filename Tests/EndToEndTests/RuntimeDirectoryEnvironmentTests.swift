#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// MUSE_RUNTIME_DIR names the runtime directory for mused, musectl and
/// muse.h's clients alike, so nobody spells it out on every command.
@Suite(.serialized)
struct RuntimeDirectoryEnvironmentTests {
    @Test func oneVariableNamesTheRuntimeDirectoryForEveryone() throws {
        let dir = Harness.runtimeDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: dir + ".state")
        }
        let environment = "MUSE_RUNTIME_DIR=\(dir)"
        let daemon = try Child("/usr/bin/env", [environment, Harness.mused, "--state-dir", dir + ".state", "--tenant", "envt::2:64"])
        #expect(daemon.waitForOutput(containing: "event=serving", seconds: 20), "\(daemon.output)")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/envt.muse"))
        let status = Harness.run("/usr/bin/env", [environment, ControlSocketTests.musectl, "status"])
        #expect(status.status == 0 && status.output.contains("runtime directory \(dir)"), "\(status.output)")
        let client = try Child("/usr/bin/env", [environment, Harness.testClient, "stream", "-", "envt", "1", "1000"])
        #expect(client.wait(seconds: 60) == 0, "\(client.output)")
        #expect(fields(client.output)["answered"] == "1000", "\(client.output)")
        // A flag still wins over the variable.
        let elsewhere = Harness.run("/usr/bin/env", [environment, ControlSocketTests.musectl, "status", "--runtime-dir", "/nonexistent"])
        #expect(elsewhere.status != 0, "\(elsewhere.output)")
        daemon.kill(SIGTERM)
        #expect(daemon.wait(seconds: 10) == 0, "\(daemon.output)")
    }
}
