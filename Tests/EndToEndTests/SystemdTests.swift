#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// A Unix datagram socket standing in for systemd's NOTIFY_SOCKET.
final class NotifySocket {
    let fd: Int32
    let path: String

    init() throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        path = "/tmp/muse-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0, "bind \(path): \(String(cString: strerror(errno)))")
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram, or nil after `seconds`.
    func receive(seconds: Double) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(seconds * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n >= 0 ? String(decoding: buffer.prefix(n), as: UTF8.self) : nil
    }

    /// Datagrams until one contains `text` (returned), or nil after `seconds`;
    /// what came before it is appended to `skipped`.
    func receive(containing text: String, seconds: Double, skipped: inout [String]) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, let message = receive(seconds: deadline.timeIntervalSinceNow) {
            if message.contains(text) { return message }
            skipped.append(message)
        }
        return nil
    }

    /// Every datagram received within `seconds`.
    func collect(seconds: Double) -> [String] {
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, let message = receive(seconds: max(0.001, deadline.timeIntervalSinceNow)) {
            messages.append(message)
        }
        return messages
    }
}

/// mused under systemd's protocols, its configuration file, and the unit
/// files: READY once segments exist and a generation serves, watchdog
/// pings that stop when a worker hangs, STOPPING on SIGTERM; a bad file named
/// by file, line and key; a unit that verifies and is hardened.
@Suite(.serialized)
struct SystemdTests {
    /// mused with the given environment, through env(1) so its pid is mused's.
    static func mused(_ environment: [String], _ arguments: [String]) throws -> Child {
        try Child("/usr/bin/env", environment + [Harness.mused] + arguments)
    }

    @Test func readyComesOnceSegmentsServeThenWatchdogPingsAndStoppingOnSIGTERM() throws {
        let notify = try NotifySocket()
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: dir + ".state") }
        let daemon = try Self.mused(["NOTIFY_SOCKET=\(notify.path)", "WATCHDOG_USEC=1000000"],
                                    ["--runtime-dir", dir, "--state-dir", dir + ".state", "--tenant", "sd1::2:64", "--tenant", "sd2::2:64", "--workers", "2"])
        var before: [String] = []
        let ready = notify.receive(containing: "READY=1", seconds: 30, skipped: &before)
        try #require(ready != nil, "no READY=1; got \(before)\n\(daemon.output)")
        #expect(before.allSatisfy { !$0.contains("WATCHDOG=1") }, "pings before READY: \(before)")
        #expect(ready!.contains("STATUS=serving 2 tenants with 2 workers, generation 1"), "\(ready!)")
        // At READY the segments exist and answer.
        for tenant in ["sd1", "sd2"] { #expect(FileManager.default.fileExists(atPath: "\(dir)/\(tenant).muse")) }
        let client = try Child(Harness.testClient, ["stream", dir, "sd1", "1", "1000"])
        #expect(client.wait(seconds: 60) == 0, "\(client.output)")
        #expect(fields(client.output)["answered"] == "1000", "\(client.output)")

        // WATCHDOG_USEC=1s: a ping every half second (counted from now on).
        while notify.receive(seconds: 0) != nil {}
        let pings = notify.collect(seconds: 2.6).filter { $0 == "WATCHDOG=1" }.count
        #expect((3...7).contains(pings), "\(pings) pings in 2.6 s")

        // systemctl reload sends SIGHUP: RELOADING=1, then READY=1 again.
        // Without --config there is no file to apply: refused, logged, and
        // mused keeps serving.
        daemon.kill(SIGHUP)
        var skipped: [String] = []
        let reloading = notify.receive(containing: "RELOADING=1", seconds: 10, skipped: &skipped)
        #expect(reloading?.contains("MONOTONIC_USEC=") == true, "no RELOADING=1: \(skipped)")
        #expect(notify.receive(containing: "READY=1", seconds: 10, skipped: &skipped) != nil, "no READY=1 after the reload")
        #expect(daemon.waitForOutput(containing: "event=reload-refused", seconds: 10), "\(daemon.output)")
        #expect(daemon.output.contains("started without --config"))
        #expect(daemon.isRunning)

        daemon.kill(SIGTERM)
        var pending: [String] = []
        let stopping = notify.receive(containing: "STOPPING=1", seconds: 10, skipped: &pending)
        #expect(stopping != nil, "no STOPPING=1: \(pending)")
        #expect(daemon.wait(seconds: 20) == 0, "\(daemon.output)")
        #expect(daemon.output.contains("event=stopped"))
    }

    @Test func aStuckWorkerStopsTheWatchdogPings() throws {
        let notify = try NotifySocket()
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: dir + ".state") }
        // Pings every 300 ms; worker 0 hangs 1.5 s after it started.
        let daemon = try Self.mused(["NOTIFY_SOCKET=\(notify.path)", "WATCHDOG_USEC=600000",
                                     "MUSE_TEST_STALL_WORKER_AFTER_MS=1500"],
                                    ["--runtime-dir", dir, "--state-dir", dir + ".state", "--tenant", "stall::2:64", "--workers", "2"])
        defer { daemon.kill(SIGKILL); daemon.wait(seconds: 10) }
        var before: [String] = []
        try #require(notify.receive(containing: "READY=1", seconds: 30, skipped: &before) != nil, "\(daemon.output)")
        try #require(daemon.waitForOutput(containing: "event=test-stall", seconds: 20), "\(daemon.output)")
        let pingsBeforeStall = notify.collect(seconds: 0.5)
        #expect(!pingsBeforeStall.isEmpty || before.contains("WATCHDOG=1"), "no ping while the workers ran")
        // A ping decided just before the stall may still arrive; none after.
        let afterStall = notify.collect(seconds: 2.5)
        #expect(!afterStall.contains("WATCHDOG=1"), "pings while a worker is stuck: \(afterStall)")
        #expect(daemon.waitForOutput(containing: "event=watchdog-withheld stuck_workers=0", seconds: 5), "\(daemon.output)")
        #expect(daemon.isRunning, "mused died instead of hanging: \(daemon.output)")
    }

    /// Under systemd, standard output is the journal and `$JOURNAL_STREAM`
    /// names it: each line then starts with its sd-daemon priority, so
    /// `journalctl -p warning` finds a refused swap. The same variable
    /// inherited with standard output elsewhere, or none, leaves lines as they were.
    @Test func logLinesCarryJournalPrioritiesOnlyWhenStandardOutputIsTheJournal() throws {
        let junk = Harness.runtimeDirectory() + "/junk.snapshot"
        defer { try? FileManager.default.removeItem(atPath: URL(filePath: junk).deletingLastPathComponent().path) }
        _ = FileManager.default.createFile(atPath: junk, contents: Data(repeating: 7, count: 100))
        // The shell names its own standard output (the test's pipe), then becomes mused.
        let asJournal = #"export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/$$/fd/1); exec "$0" "$@""#
        let inherited = #"export JOURNAL_STREAM=1:1; exec "$0" "$@""#
        for (script, prefixed) in [(asJournal, true), (inherited, false), (#"unset JOURNAL_STREAM; exec "$0" "$@""#, false)] {
            let dir = Harness.runtimeDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: dir + ".state") }
            let daemon = try Child("/bin/sh", ["-c", script, Harness.mused, "--runtime-dir", dir, "--state-dir", dir + ".state",
                                               "--tenant", "jrn::1:32"])
            try #require(daemon.waitForOutput(containing: "event=serving", seconds: 30), "\(daemon.output)")
            let refused = Harness.run(ControlSocketTests.musectl, ["swap", junk, "--runtime-dir", dir])
            #expect(refused.status != 0)
            #expect(daemon.waitForOutput(containing: "event=swap-refused", seconds: 10), "\(daemon.output)")
            daemon.kill(SIGHUP) // no --config: the reload is refused, an error
            #expect(daemon.waitForOutput(containing: "event=reload-refused", seconds: 10), "\(daemon.output)")
            daemon.kill(SIGTERM)
            #expect(daemon.wait(seconds: 20) == 0, "\(daemon.output)")
            let lines = daemon.output.split(separator: "\n")
            func line(_ event: String) -> Substring? { lines.first { $0.contains("event=\(event) ") || $0.hasSuffix("event=\(event)") } }
            if prefixed {
                #expect(line("serving")?.hasPrefix("<6>level=info event=serving ") == true, "\(daemon.output)")
                #expect(line("swap-refused")?.hasPrefix("<4>level=warning event=swap-refused ") == true, "\(daemon.output)")
                #expect(line("reload-refused")?.hasPrefix("<3>level=error event=reload-refused ") == true, "\(daemon.output)")
                #expect(lines.allSatisfy { $0.hasPrefix("<") }, "a line without its priority: \(daemon.output)")
            } else {
                #expect(line("serving")?.hasPrefix("level=info event=serving ") == true, "\(daemon.output)")
                #expect(line("swap-refused")?.hasPrefix("level=warning event=swap-refused ") == true, "\(daemon.output)")
                #expect(line("reload-refused")?.hasPrefix("level=error event=reload-refused ") == true, "\(daemon.output)")
                #expect(!lines.contains { $0.hasPrefix("<") }, "\(daemon.output)")
            }
        }
    }

    @Test func aConfigurationFileStartsMusedAndTheCommandLineExtendsIt() throws {
        let dir = Harness.runtimeDirectory()
        let work = Harness.runtimeDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: work)
        }
        let config = "\(work)/mused.toml"
        try """
            # a test configuration
            runtime_directory = "\(dir)"
            state_directory = "\(work)/state"
            snapshot_io = "read"
            workers = 2
            spin_us = 50
            idle_policy = "adaptive"
            metrics_address = "127.0.0.1:9464"

            [[tenant]]
            name = "cfa"
            channels = 2
            ring_depth = 64
            weight = 2
            rate_limit = { events_per_second = 100000, burst = 1000 }

            [[tenant]]
            name = "cfb"
            channels = 4
            ring_depth = 128
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try Child(Harness.mused, ["--config", config, "--tenant", "cfc::1:32", "--workers", "1"])
        #expect(daemon.waitForOutput(containing: "event=serving tenants=3 workers=1", seconds: 30), "\(daemon.output)")
        #expect(daemon.output.contains("tenant=cfb path=\(dir)/cfb.muse incarnation=1 channels=4 ring_depth=128"),
                "\(daemon.output)")
        #expect(daemon.output.contains("tenant=cfc path=\(dir)/cfc.muse incarnation=1 channels=1 ring_depth=32"),
                "\(daemon.output)")
        let client = try Child(Harness.testClient, ["stream", dir, "cfa", "1", "1000"])
        #expect(client.wait(seconds: 60) == 0 && fields(client.output)["answered"] == "1000", "\(client.output)")
        daemon.kill(SIGTERM)
        #expect(daemon.wait(seconds: 20) == 0, "\(daemon.output)")
    }

    @Test func aBadConfigurationFileStopsMusedNamingFileLineAndKey() throws {
        let work = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        // mused must not even create the runtime directory.
        let dir = "\(work)/run"
        let config = "\(work)/bad.toml"
        // Each file starts with a runtime_directory line, then the mistake.
        let cases: [(String, String)] = [
            ("workers = 2\nworkerz = 3\n", "\(config):3: workerz: unknown key"),
            ("workers = \"2\"\n", "\(config):2: workers: expected an integer, got a string"),
            ("[[tenant]]\nname = \"a\"\n\n[[tenant]]\nname = \"b\"\nchannels = 0\n",
             "\(config):7: tenant[1].channels: must be 1...1024, got 0"),
            ("[[tenant]]\nname = \"a\"\n[[tenant]]\nname = \"a\"\n",
             "\(config):5: tenant[1].name: tenant 'a' is configured twice (first as tenant[0] on line 3)"),
            ("[[tenant]]\nname = \"a\"\nrate_limit = { events_per_second = 0 }\n",
             "\(config):4: tenant[0].rate_limit.events_per_second: must be 1...1000000000, got 0"),
            ("[[tenant]]\nname = \"a\"\ngroup = \"no-such-group-muse\"\n", "\(config):4: tenant[0].group: no such group"),
            ("workers = 1\nspin_us = \n", "\(config):3: spin_us: not valid TOML"),
        ]
        for (text, message) in cases {
            try ("runtime_directory = \"\(dir)\"\n" + text).write(toFile: config, atomically: true, encoding: .utf8)
            // A mused that wrongly starts is stopped after a few seconds.
            let child = try Child(Harness.mused, ["--config", config])
            let status = child.wait(seconds: 10)
            #expect(status != nil && status != 0 && child.output.contains(message), "\(text): \(child.output)")
            #expect(!FileManager.default.fileExists(atPath: dir), "\(text): mused touched the runtime directory")
        }
        // A missing file, and a file without tenants (with no --tenant either).
        let missing = try Child(Harness.mused, ["--config", "\(work)/missing.toml"])
        #expect(missing.wait(seconds: 10) ?? 0 != 0 && missing.output.contains("\(work)/missing.toml: cannot read"),
                "\(missing.output)")
        try "runtime_directory = \"\(dir)\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let empty = try Child(Harness.mused, ["--config", config])
        #expect(empty.wait(seconds: 10) ?? 0 != 0 && empty.output.contains("no tenant is configured"), "\(empty.output)")
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test func theUnitInstallsVerifiesCleanAndIsHardened() throws {
        let stage = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: stage) }
        let install = Harness.packageRoot.appending(path: "tools/install").path
        let bin = URL(filePath: Harness.mused).deletingLastPathComponent().path
        // Installed under a private prefix, so the unit names binaries and
        // configuration that exist, and verify can check them.
        let installed = Harness.run(install, ["--bin-dir", bin, "--prefix", "\(stage)/usr/local", "--sysconfdir", "\(stage)/etc"])
        try #require(installed.status == 0, "\(installed.output)")
        // What the package provides under the prefix (units in the vendor unit
        // directory); only the configuration under /etc, whose systemd/system is the administrator's.
        let units = "\(stage)/usr/local/lib/systemd/system"
        let unit = "\(units)/mused.service"
        let share = "\(stage)/usr/local/share"
        for file in [unit, "\(stage)/usr/local/bin/mused", "\(stage)/usr/local/bin/musectl", "\(stage)/etc/muse/mused.toml",
                     "\(stage)/usr/local/lib/sysusers.d/muse.conf", "\(stage)/usr/local/lib/tmpfiles.d/muse.conf",
                     "\(stage)/usr/local/lib/libmuse.so.1", "\(stage)/usr/local/include/muse.h",
                     "\(stage)/usr/local/lib/pkgconfig/muse.pc", "\(share)/man/man1/mused.1", "\(share)/man/man1/musectl.1",
                     "\(share)/doc/muse/LICENSE", "\(share)/doc/muse/CHANGELOG.md", "\(share)/doc/muse/versioning.md"] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file) not installed")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(stage)/etc/systemd"), "installed into the administrator's /etc/systemd")
        // Man pages that man renders, and completions for three shells, each made by the installed binary.
        for tool in ["mused", "musectl"] {
            let page = Harness.run("/usr/bin/env", ["MANWIDTH=80", "man", "--warnings", "-l", "\(share)/man/man1/\(tool).1"])
            #expect(page.status == 0 && page.output.contains("\(tool) —") && page.output.contains("--version")
                    && !page.output.contains("warning"), "man \(tool): \(page.output)")
            let bash = "\(share)/bash-completion/completions/\(tool)"
            #expect(Harness.run("/bin/bash", ["-n", bash]).status == 0, "\(bash)")
            #expect((try? String(contentsOfFile: bash, encoding: .utf8))?.contains("-F _\(tool) \(tool)\n") == true, "\(bash)")
            #expect((try? String(contentsOfFile: "\(share)/zsh/site-functions/_\(tool)", encoding: .utf8))?
                .hasPrefix("#compdef \(tool)") == true)
            #expect((try? String(contentsOfFile: "\(share)/fish/vendor_completions.d/\(tool).fish", encoding: .utf8))?
                .contains("complete -c '\(tool)'") == true)
        }
        #expect((try? String(contentsOfFile: "\(share)/bash-completion/completions/musectl", encoding: .utf8))?
            .contains("swap-incoming") == true)
        #expect(try String(contentsOfFile: "\(stage)/usr/local/lib/pkgconfig/muse.pc", encoding: .utf8)
            .contains("prefix=\(stage)/usr/local"))
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        #expect(text.contains("ExecStart=\(stage)/usr/local/bin/mused --config \(stage)/etc/muse/mused.toml"))
        for line in ["Type=notify", "NotifyAccess=main", "WatchdogSec=", "ExecReload=\(stage)/usr/local/bin/musectl reload --runtime-dir /run/muse",
                     "KillSignal=SIGTERM", "RuntimeDirectory=muse", "RuntimeDirectoryPreserve=yes",
                     "RuntimeDirectoryMode=0755", "StateDirectory=muse", "User=muse", "CapabilityBoundingSet=\n",
                     "SystemCallFilter=@system-service io_uring_setup io_uring_enter io_uring_register",
                     "SystemCallFilter=setpriority\n",
                     "IPAddressDeny=any", "IPAddressAllow=localhost", "UMask=0027"] {
            #expect(text.contains(line), "the unit lacks \(line)")
        }
        // mused gives segments to tenant groups with fchown: the filter must not deny it.
        for line in text.split(separator: "\n") where line.hasPrefix("SystemCallFilter=~") {
            #expect(!line.contains("@privileged") && !line.contains("@chown") && !line.contains("fchown"),
                    "\(line) denies fchown, which gives each segment to its tenant's group")
        }

        // The rollout units: the path unit watches incoming/, the service
        // swaps gated with the installed musectl.
        let swapService = "\(units)/mused-swap.service"
        let swapPath = "\(units)/mused-swap.path"
        let swapText = try String(contentsOfFile: swapService, encoding: .utf8)
        #expect(swapText.contains("ExecStart=\(stage)/usr/local/bin/musectl swap-incoming /var/lib/muse/incoming --gate"))
        #expect(try String(contentsOfFile: swapPath, encoding: .utf8).contains("PathExistsGlob=/var/lib/muse/incoming/*.snapshot"))
        #expect(FileManager.default.fileExists(atPath: "\(stage)/usr/local/share/doc/muse/deployment.md"))

        // The README's wake-up latency drop-in, applied to the installed unit.
        let readme = try String(contentsOf: Harness.packageRoot.appending(path: "README.md"), encoding: .utf8)
        let dropIn = readme.components(separatedBy: "    # /etc/systemd/system/mused.service.d/latency.conf\n").dropFirst().first?
            .components(separatedBy: "\n\n").first?.split(separator: "\n").map { $0.dropFirst(4) }.joined(separator: "\n")
        try #require(dropIn?.contains("ExecStartPre=+") == true, "README has no latency.conf drop-in")
        let withDropIn = "\(units)/mused-latency-check.service"
        try (try String(contentsOfFile: unit, encoding: .utf8) + "\n" + dropIn! + "\n")
            .write(toFile: withDropIn, atomically: true, encoding: .utf8)

        // Documentation= names man:mused(1): verify looks it up among the installed pages.
        for file in [unit, swapService, swapPath, withDropIn] {
            let verify = Harness.run("/usr/bin/env", ["MANPATH=\(share)/man", "systemd-analyze", "verify", file])
            #expect(verify.status == 0 && verify.output.isEmpty, "systemd-analyze verify \(file): \(verify.output)")
        }

        for (file, name) in [(unit, "mused.service"), (swapService, "mused-swap.service")] {
            let security = Harness.run("/usr/bin/env", ["systemd-analyze", "security", "--offline=true", file])
            let exposure = security.output.split(separator: "\n").last { $0.contains("Overall exposure level for \(name):") }
                .flatMap { line in line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) } }
            try #require(exposure != nil, "no exposure level in: \(security.output)")
            #expect(exposure! <= 2.0, "\(name): exposure \(exposure!) > 2.0:\n\(security.output)")
        }

        // The installed sample configuration is one mused accepts: its two demo
        // tenants, served the demo generation the installed binary carries.
        let sample = try String(contentsOfFile: "\(stage)/etc/muse/mused.toml", encoding: .utf8)
        let runtime = "\(stage)/run-muse"
        try sample.replacingOccurrences(of: "\"/run/muse\"", with: "\"\(runtime)\"")
            .replacingOccurrences(of: "\"/var/lib/muse\"", with: "\"\(stage)/state-muse\"")
            .write(toFile: "\(stage)/etc/muse/mused.toml", atomically: true, encoding: .utf8)
        let daemon = try Child("\(stage)/usr/local/bin/mused", ["--config", "\(stage)/etc/muse/mused.toml"])
        #expect(daemon.waitForOutput(containing: "event=serving tenants=2", seconds: 30), "\(daemon.output)")
        #expect(daemon.output.contains("generation=1"), "\(daemon.output)")
        daemon.kill(SIGTERM)
        #expect(daemon.wait(seconds: 20) == 0)

        // Installing again keeps the operator's configuration, and points at a
        // unit an earlier install left in /etc/systemd/system, which would win.
        try FileManager.default.createDirectory(atPath: "\(stage)/etc/systemd/system", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: unit, toPath: "\(stage)/etc/systemd/system/mused.service")
        let again = Harness.run(install, ["--bin-dir", bin, "--prefix", "\(stage)/usr/local", "--sysconfdir", "\(stage)/etc"])
        #expect(again.status == 0 && again.output.contains("kept \(stage)/etc/muse/mused.toml"), "\(again.output)")
        #expect(again.output.contains("note: \(stage)/etc/systemd/system/mused.service overrides \(unit)"), "\(again.output)")
        #expect(try String(contentsOfFile: "\(stage)/etc/muse/mused.toml", encoding: .utf8).contains(runtime))

        // The sysusers.d and tmpfiles.d entries make the user and directories
        // in a staged root (DESTDIR), as systemd-sysusers/-tmpfiles will on a host.
        let root = "\(stage)/root"
        let staged = Harness.run("/usr/bin/env", ["DESTDIR=\(root)", install, "--bin-dir", bin])
        try #require(staged.status == 0, "\(staged.output)")
        let sysusers = Harness.run("/usr/bin/env", ["systemd-sysusers", "--root=\(root)"])
        #expect(sysusers.status == 0, "\(sysusers.output)")
        let passwd = (try? String(contentsOfFile: "\(root)/etc/passwd", encoding: .utf8)) ?? ""
        #expect(passwd.contains("muse:x:") && passwd.contains(":/var/lib/muse:/usr/sbin/nologin"), "\(passwd)")
        let tmpfiles = Harness.run("/usr/bin/env", ["systemd-tmpfiles", "--root=\(root)", "--create"])
        #expect(tmpfiles.status == 0, "\(tmpfiles.output)")
        var info = stat()
        #expect(stat("\(root)/run/muse", &info) == 0 && info.st_mode & 0o7777 == 0o755)
        #expect(stat("\(root)/var/lib/muse", &info) == 0 && info.st_mode & 0o7777 == 0o750)
        #expect(stat("\(root)/var/lib/muse/incoming", &info) == 0 && info.st_mode & 0o7777 == 0o770)
    }
}
