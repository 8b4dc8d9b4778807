#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// mused refuses what would give a segment two owners, and survives a tenant
/// flickering its segment's size while it starts.
@Suite(.serialized)
struct DaemonHardeningTests {
    @Test func aSecondDaemonOnTheSameRuntimeDirectoryIsRefusedAndHarmsNoEvent() throws {
        let daemon = try DaemonUnderTest(tenants: ["solo::2:64"])
        let count = "400000"
        let client = try daemon.client("stream", "solo", ["1", count])
        usleep(100_000)
        // The same tenant, and another tenant: both would touch the directory.
        for tenants in [["solo::2:64"], ["other::2:64"]] {
            let second = try Child(Harness.mused, ["--runtime-dir", daemon.runtimeDirectory, "--state-dir", daemon.stateDirectory]
                                   + tenants.flatMap { ["--tenant", $0] })
            let status = second.wait(seconds: 10)
            #expect(status != nil && status != 0, "a second mused was accepted: \(second.output)")
            #expect(second.output.contains("another mused (pid \(daemon.child.pid)) is serving runtime directory"),
                    "\(second.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(daemon.runtimeDirectory)/other.muse"))
        #expect(client.wait(seconds: 120) == 0, "\(client.output)")
        let result = fields(client.output)
        #expect(result["answered"] == count && result["duplicates"] == "0" && result["lost"] == "0"
                && result["wrong"] == "0", "\(client.output)")
        #expect(daemon.stop() == 0)
    }

    @Test func configurationMistakesStopMusedBeforeItTouchesAnything() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [([String], String)] = [
            (["--tenant", "a::2:64", "--tenant", "a::2:64"], "tenant 'a' is configured twice"),
            (["--tenant", "good", "--tenant", "../escape"], "tenant name '../escape' must be"),
            (["--tenant", "good", "--tenant", "bad::0"], "tenant 'bad': channels must be"),
            (["--tenant", "good:4294967295"], "group id 4294967295 is reserved"),
            (["--tenant", "good", "--spin-us", "18446744073709552"], "--spin-us must be"),
            (["--tenant", "good", "--idle-policy", "nap"], "--idle-policy must be busy-spin, adaptive, low-power"),
            (["--tenant", "good", "--workers", "9223372036854775807"], "workers must be 1...32"),
            (["--tenant", "good", "--snapshot", "/nonexistent/g.snapshot"], "--snapshot /nonexistent/g.snapshot: No such file"),
            (["--tenant", "good", "--snapshot", dir], "--snapshot \(dir): not a regular file (a directory)"),
        ]
        for (arguments, message) in cases + [(["--runtime-dir", "", "--tenant", "good"], "must be an absolute path")] {
            // A mused that wrongly starts is stopped after a few seconds.
            let child = try Child(Harness.mused, ["--runtime-dir", dir, "--state-dir", dir + ".state"] + arguments)
            let status = child.wait(seconds: 5)
            #expect(status != nil && status != 0 && child.output.contains(message), "\(arguments): \(child.output)")
        }
        // Nothing was created for the good tenants of a bad configuration:
        // no segment, no lock file, no state directory.
        #expect((try FileManager.default.contentsOfDirectory(atPath: dir)) == [])
        #expect(!FileManager.default.fileExists(atPath: dir + ".state"))
    }

    @Test func anAttackerOwnedRuntimeDirectoryIsRefused() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o1777) // think /tmp/muse, made by anyone before mused first starts
        let child = try Child(Harness.mused, ["--runtime-dir", dir, "--state-dir", dir + ".state", "--tenant", "tb"])
        let status = child.wait(seconds: 5)
        #expect(status != nil && status != 0 && child.output.contains("lets others create or replace segments"),
                "\(child.output)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/tb.muse"))
    }

    /// A tenant's process shrinks and regrows its segment in a loop while mused
    /// starts 150 times: mused never dies of SIGBUS, serves the other tenant
    /// each time, and stops cleanly.
    @Test func restartsAgainstAFlickeringSegmentNeverKillTheDaemon() throws {
        let daemon = try DaemonUnderTest(tenants: ["flicker::2:64", "steady::2:64"])
        #expect(daemon.stop() == 0)
        let path = "\(daemon.runtimeDirectory)/flicker.muse"
        var info = stat()
        try #require(stat(path, &info) == 0)
        let fullSize = info.st_size
        let fd = open(path, O_RDWR)
        try #require(fd >= 0)
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 4096)
        try #require(pread(fd, &header, header.count, 0) == header.count)
        let stop = Flag()
        let flickering = Thread { [header] in
            // Empty the file, regrow it and put the header back, so that
            // adoption sees a valid segment that vanishes under it.
            while !stop.isSet {
                ftruncate(fd, 0)
                ftruncate(fd, fullSize)
                _ = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            }
        }
        flickering.start()
        defer { stop.set() }
        var adopted = 0
        for start in 0..<150 {
            let child = try Child(Harness.mused, ["--runtime-dir", daemon.runtimeDirectory, "--state-dir", daemon.stateDirectory,
                                                  "--tenant", "flicker::2:64", "--tenant", "steady::2:64"])
            let serving = child.waitForOutput(containing: "event=serving", seconds: 20)
            child.kill(SIGTERM)
            let status = child.wait(seconds: 20)
            try #require(serving && status == 0 && child.exited == true,
                         "start \(start): mused did not serve and stop cleanly:\n\(child.output)")
            if child.output.contains("event=segment-adopted tenant=flicker") { adopted += 1 }
        }
        // Adoption itself was raced, not only refused up front.
        #expect(adopted > 0)
    }
}

/// A flag one thread sets and another polls.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
