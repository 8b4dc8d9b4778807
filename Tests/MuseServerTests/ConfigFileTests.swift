#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import MuseCore
@testable import MuseServer

/// The configuration file: every key read, every mistake named by file, line
/// and key, and the command line laid over it.
struct ConfigFileTests {
    static let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theSampleFileIsValidAndStatesTheDefaults() throws {
        let path = Self.packageRoot.appending(path: "systemd/mused.toml").path
        let config = try ConfigFile.load(path: path)
        let defaults = DaemonConfiguration()
        #expect(config.configurationFile == path)
        #expect(config.tenants == DaemonConfiguration.demoTenants)
        #expect(config.runtimeDirectory == defaults.runtimeDirectory && config.workers == defaults.workers
                && config.batchSize == defaults.batchSize && config.spinNanoseconds == defaults.spinNanoseconds)
        #expect(config.runtimeDirectoryTrust == .ownedExclusively && config.adminGroup == nil)
        #expect(config.idlePolicy == .adaptive && config.metricsAddress == nil && config.snapshot == nil
                && config.stateDirectory == DaemonConfiguration.systemStateDirectory && config.snapshotIO == .auto)
        #expect(defaults.stateDirectory == nil && defaults.stateDirectoryInUse == DaemonConfiguration.systemStateDirectory)
        // Every key is documented in the sample.
        let sample = try String(contentsOfFile: path, encoding: .utf8)
        #expect(config.promotionGate == PromotionGate())
        for key in ConfigFile.topLevelKeys + ConfigFile.tenantKeys + ConfigFile.rateLimitKeys + ConfigFile.promotionGateKeys {
            #expect(sample.contains(key == "tenant" ? "[[tenant]]" : "\(key) ="), "the sample does not document '\(key)'")
        }
    }

    @Test func everyKeyIsRead() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let name = URL(filePath: directory).lastPathComponent
        try #require(FileManager.default.createFile(atPath: "\(directory)/g.msnap", contents: Data([1])))
        let config = try ConfigFile.parse("""
            runtime_directory = "/run/muse-test"
            state_directory = "/var/lib/muse-test"
            snapshot = "\(directory)/../\(name)/g.msnap"
            snapshot_io = "read"
            max_snapshot_bytes = 1048576
            admin_group = "0"
            allow_foreign_runtime_dir = true
            workers = 4
            batch_size = 32
            spin_us = 0
            metrics_address = "[::1]:9464"
            idle_policy = "low-power"
            promotion_gate = { max_psi = 0.25, min_events = 50000, max_relative_error = 0.05 }
            sketch_window = "30m"

            [[tenant]]
            name = "acme"
            group = "0"
            channels = 16
            ring_depth = 1024
            max_features = 128
            weight = 3
            rate_limit = { events_per_second = 10000, burst = 500 }
            alert_thresholds = [0.95, 0.99]
            shadow_sample = 10

            [[tenant]]
            name = "globex"
            [tenant.rate_limit]
            events_per_second = 70
            """, file: "test.toml")
        #expect(config.runtimeDirectory == "/run/muse-test" && config.stateDirectory == "/var/lib/muse-test")
        #expect(config.snapshot == "\(directory)/g.msnap" && config.snapshotIO == .plainRead && config.adminGroup == "0")
        #expect(config.maximumSnapshotBytes == 1 << 20)
        #expect(config.runtimeDirectoryTrust == .anyOwner)
        #expect(config.workers == 4 && config.batchSize == 32 && config.spinNanoseconds == 0)
        #expect(config.metricsAddress == MetricsAddress("[::1]:9464") && config.metricsAddress?.port == 9464)
        #expect(config.idlePolicy == .lowPower)
        #expect(config.promotionGate == PromotionGate(maximumPSI: 0.25, minimumEvents: 50000, maximumRelativeError: 0.05))
        #expect(config.sketchWindow == .last(seconds: 1800))
        var acme = TenantConfiguration(name: "acme", group: "0", channels: 16, ringDepth: 1024, maxFeatures: 128)
        acme.weight = 3
        acme.rateLimit = RateLimit(eventsPerSecond: 10000, burst: 500)
        acme.alertThresholds = [0.95, 0.99]
        acme.shadowSample = 10
        var globex = TenantConfiguration(name: "globex")
        globex.rateLimit = RateLimit(eventsPerSecond: 70, burst: 70)
        #expect(config.tenants == [acme, globex])
        try config.validate()
    }

    /// (file text, line, key, part of the message)
    static let mistakes: [(String, Int?, String?, String)] = [
        ("workers = 2\n\n# a comment\nworkerz = 3\n", 4, "workerz", "unknown key"),
        ("Workers = 2\n", 1, "Workers", "did you mean 'workers'?"),
        ("workers = 1\n[promotion_gate]\nmax_psi = 0\n", 3, "promotion_gate.max_psi", "must be 0.001...10.0, got 0.0"),
        ("[promotion_gate]\nmin_events = 1.5\n", 2, "promotion_gate.min_events", "expected an integer"),
        ("[promotion_gate]\nmax_psi = \"low\"\n", 2, "promotion_gate.max_psi", "expected a number, got a string"),
        ("promotion_gate = 0.1\n", 1, "promotion_gate", "expected a table"),
        ("[promotion_gate]\nmax_pis = 0.2\n", 2, "promotion_gate.max_pis", "unknown key"),
        ("workers = 1\n[promotion_gate]\nmax_relative_error = 0\n", 3, "promotion_gate.max_relative_error", "must be 0.001...1.0, got 0.0"),
        ("[promotion_gate]\nmax_relative_error = \"10%\"\n", 2, "promotion_gate.max_relative_error", "expected a number, got a string"),
        ("spin_us = 10\nworkers = \"two\"\n", 2, "workers", "expected an integer, got a string"),
        ("workers = 2.0\n", 1, "workers", "expected an integer, got a floating-point number"),
        ("workers = 0\n", 1, "workers", "must be 1...32, got 0"),
        ("batch_size = 5000\n", 1, "batch_size", "must be 1...4096"),
        ("spin_us = -1\n", 1, "spin_us", "must be 0...1000000"),
        ("max_snapshot_bytes = 1000\n", 1, "max_snapshot_bytes", "must be 1048576...68719476736"),
        ("workers = 1\nmax_snapshot_bytes = \"1 GiB\"\n", 2, "max_snapshot_bytes", "expected an integer, got a string"),
        ("allow_foreign_runtime_dir = \"yes\"\n", 1, "allow_foreign_runtime_dir", "expected true or false"),
        ("runtime_directory = \"run/muse\"\n", 1, "runtime_directory", "must be an absolute path"),
        ("state_directory = \"\"\n", 1, "state_directory", "must be an absolute path"),
        ("snapshot = \"g.msnap\"\n", 1, "snapshot", "must be an absolute path"),
        ("admin_group = \"no-such-group-muse\"\n", 1, "admin_group", "no such group 'no-such-group-muse'"),
        ("admin_group = \"4294967295\"\n", 1, "admin_group", "group id 4294967295 is reserved"),
        ("metrics_address = \"example.com:9464\"\n", 1, "metrics_address", "expected an IP address and port"),
        ("metrics_address = \"127.0.0.1\"\n", 1, "metrics_address", "expected an IP address and port"),
        ("metrics_address = \"127.0.0.1:0\"\n", 1, "metrics_address", "expected an IP address and port"),
        ("metrics_address = \"::1:9464\"\n", 1, "metrics_address", "expected an IP address and port"),
        ("metrics_address = \"[::1:9464\"\n", 1, "metrics_address", "expected an IP address and port"),
        ("metrics_address = \"[example.com]:9464\"\n", 1, "metrics_address", "expected an IP address and port"),
        ("metrics_address = \"256.0.0.1:9464\"\n", 1, "metrics_address", "expected an IP address and port"),
        ("metrics_address = \"0.0.0.0:65536\"\n", 1, "metrics_address", "expected an IP address and port"),
        ("snapshot_io = \"uring\"\n", 1, "snapshot_io", "expected one of \"auto\", \"io_uring\", \"read\""),
        ("idle_policy = \"nap\"\n", 1, "idle_policy", "expected one of \"busy-spin\", \"adaptive\", \"low-power\""),
        ("workers = 1\n[tenant]\nname = \"a\"\n", 2, "tenant", "write each tenant as a [[tenant]] section"),
        ("tenant = [1, 2]\n", 1, "tenant", "expected an array of tables"),
        ("[[tenant]]\nchannels = 2\n", 1, "tenant[0]", "a tenant needs a name"),
        ("[[tenant]]\nname = 7\n", 2, "tenant[0].name", "expected a string, got an integer"),
        ("[[tenant]]\nname = \"../x\"\n", 2, "tenant[0].name", "tenant name '../x' must be"),
        ("[[tenant]]\nname = \"a\"\n\n[[tenant]]\nname = \"b\"\nchannels = 0\n", 6, "tenant[1].channels",
         "must be 1...1024, got 0"),
        ("[[tenant]]\nname = \"a\"\nring_depth = 100\n", 3, "tenant[0].ring_depth", "must be a power of two"),
        ("[[tenant]]\nname = \"a\"\nmax_features = 5000\n", 3, "tenant[0].max_features", "must be 1...4096"),
        ("[[tenant]]\nname = \"a\"\nweight = 0\n", 3, "tenant[0].weight", "must be 1...1000"),
        ("[[tenant]]\nname = \"a\"\ngroup = \"no-such-group-muse\"\n", 3, "tenant[0].group", "no such group"),
        ("[[tenant]]\nname = \"a\"\nlimit = 3\n", 3, "tenant[0].limit", "unknown key"),
        ("[[tenant]]\nname = \"a\"\n\n[[tenant]]\nname = \"b\"\n\n[[tenant]]\n  name = \"a\"\n", 8, "tenant[2].name",
         "tenant 'a' is configured twice (first as tenant[0] on line 2)"),
        ("[[tenant]]\nname = \"a\"\nrate_limit = 5\n", 3, "tenant[0].rate_limit", "expected a table"),
        ("[[tenant]]\nname = \"a\"\nrate_limit = { burst = 5 }\n", 3, "tenant[0].rate_limit", "needs events_per_second"),
        ("[[tenant]]\nname = \"a\"\nrate_limit = { events_per_second = 5, burts = 3 }\n", 3,
         "tenant[0].rate_limit.burts", "unknown key"),
        ("[[tenant]]\nname = \"a\"\n[tenant.rate_limit]\nevents_per_second = 10\nburst = 0\n", 5,
         "tenant[0].rate_limit.burst", "must be 1...1000000000, got 0"),
        ("[[tenant]]\nname = \"a\"\nrate_limit.events_per_second = 0\n", 3,
         "tenant[0].rate_limit.events_per_second", "must be 1...1000000000"),
        ("[[tenant]]\nname = \"a\"\nalert_thresholds = 0.95\n", 3, "tenant[0].alert_thresholds", "expected an array of numbers"),
        ("[[tenant]]\nname = \"a\"\nalert_thresholds = [0.95, \"high\"]\n", 3, "tenant[0].alert_thresholds",
         "element 2 is a string, not a number"),
        ("[[tenant]]\nname = \"a\"\nalert_thresholds = [0.5, 1]\n", 3, "tenant[0].alert_thresholds",
         "element 2 is 1.0; a threshold on the reference scale is in (0, 1)"),
        ("[[tenant]]\nname = \"a\"\nalert_thresholds = [0.99, 0.95]\n", 3, "tenant[0].alert_thresholds",
         "thresholds must ascend"),
        ("[[tenant]]\nname = \"a\"\nalert_thresholds = [0.1, 0.2, 0.3, 0.4, 0.5]\n", 3, "tenant[0].alert_thresholds",
         "at most 4 thresholds, got 5"),
        ("[[tenant]]\nname = \"a\"\nshadow_sample = 0\n", 3, "tenant[0].shadow_sample", "must be 1...1000000, got 0"),
        ("sketch_window = \"forever\"\n", 1, "sketch_window", "expected \"since-publication\" or a duration such as \"30m\""),
        // Syntax errors: TOMLKit's line; the key written there, if any.
        ("workers = 1\nbatch_size =\n", 2, "batch_size", "not valid TOML"),
        ("workers = 1\nworkers = 2\n", 2, "workers", "not valid TOML"),
        ("[[tenant]]\nname = \"a\n", 2, "name", "not valid TOML"),
        ("workers = 1\n[[tenant\n", 2, nil, "not valid TOML"),
    ]

    @Test(arguments: mistakes.indices)
    func aMistakeNamesTheFileTheLineAndTheKey(_ index: Int) {
        let (text, line, key, message) = Self.mistakes[index]
        do {
            let config = try ConfigFile.parse(text, file: "/etc/muse/mused.toml")
            Issue.record("accepted \(text.debugDescription): \(config)")
        } catch {
            #expect(error.file == "/etc/muse/mused.toml")
            #expect(error.line == line && error.key == key && error.message.contains(message),
                    "\(text.debugDescription): \(error)")
            let prefix = "/etc/muse/mused.toml" + (line.map { ":\($0)" } ?? "") + ": " + (key.map { "\($0): " } ?? "")
            #expect(error.description.hasPrefix(prefix), "\(error)")
        }
    }

    /// Any numeric address the operator configures; only loopback ones count as such.
    @Test func theMetricsAddressMayBeAnyIPAddress() throws {
        let accepted: [(String, String, UInt16, Bool)] = [
            ("127.0.0.1:9464", "127.0.0.1", 9464, true), ("127.8.9.10:1", "127.8.9.10", 1, true),
            ("localhost:9464", "localhost", 9464, true), ("[::1]:9464", "::1", 9464, true),
            ("0.0.0.0:9464", "0.0.0.0", 9464, false), ("192.0.2.7:65535", "192.0.2.7", 65535, false),
            ("[::]:9464", "::", 9464, false), ("[2001:db8::1]:9464", "2001:db8::1", 9464, false),
        ]
        for (text, host, port, loopback) in accepted {
            let address = try #require(MetricsAddress(text), "\(text)")
            #expect(address.host == host && address.port == port && address.isLoopback == loopback, "\(text)")
            #expect(address.description == text)
            let config = try ConfigFile.parse("metrics_address = \"\(text)\"\n", file: "m.toml")
            #expect(config.metricsAddress == address)
        }
    }

    @Test func anUnreadableFileIsNamed() {
        #expect(throws: ConfigFileError.self) { try ConfigFile.load(path: "/nonexistent/mused.toml") }
        do {
            _ = try ConfigFile.load(path: "/")
        } catch {
            #expect(error.description == "/: cannot read the configuration file: it is not a regular file")
        }
    }

    @Test func sourceLinesFollowTablesArraysDottedKeysAndInlineTables() {
        let lines = TOMLSourceLines("""
            # comment = 1
            a = 1
            "quoted.key" = 2
            text = \"\"\"
            notakey = 3
            \"\"\"
            [[t]]
            x.y = 4
            [t.sub]
            z = 5
            [[t]]
            inline = { p = 1, q = { r = 2 } } # s = 3
            [[t.inner]]
            w = 6
            [other]
            v = 7
            """)
        #expect(lines.line(of: "a") == 2)
        #expect(lines.line(of: "notakey") == nil)
        #expect(lines.line(of: "t[0]") == 7 && lines.line(of: "t[0].x.y") == 8)
        #expect(lines.line(of: "t[0].sub.z") == 10 && lines.line(of: "t[0].sub.unknown") == 9)
        #expect(lines.line(of: "t[1]") == 11 && lines.line(of: "t[1].inline.p") == 12 && lines.line(of: "t[1].inline.q.r") == 12)
        #expect(lines.line(of: "t[1].inline.s") == 12) // falls back to the enclosing key's line
        #expect(lines.line(of: "t[1].inner[0].w") == 14 && lines.line(of: "other.v") == 16)
        #expect(lines.line(of: "other.v[3]") == 16) // an array value's element: the array's line
        #expect(lines.key(writtenOn: 8) == "t[0].x.y" && lines.key(writtenOn: 12) == "t[1].inline")
        #expect(lines.key(writtenOn: 7) == nil && lines.key(writtenOn: 5) == nil) // a header; inside a string
    }

    @Test func theCommandLineOverridesAndExtendsTheFile() throws {
        var file = try ConfigFile.parse("""
            runtime_directory = "/run/from-file"
            workers = 3
            spin_us = 7
            idle_policy = "low-power"
            [[tenant]]
            name = "a"
            weight = 5
            [[tenant]]
            name = "b"
            channels = 2
            """, file: "f.toml")
        file.configurationFile = "f.toml"
        // Nothing on the command line: the file as written.
        let plain = CommandLineSettings().applied(to: file)
        #expect(plain.tenants.map(\.name) == ["a", "b"] && plain.workers == 3 && plain.runtimeDirectory == "/run/from-file")
        #expect(plain.idlePolicy == .lowPower)

        var settings = CommandLineSettings()
        settings.runtimeDirectory = "/run/from-flag"
        settings.workers = 2
        settings.allowForeignRuntimeDirectory = true
        settings.stateDirectory = "/var/lib/from-flag"
        settings.snapshotIO = .ioUring
        settings.idlePolicy = .busySpin
        settings.tenants = [TenantConfiguration(name: "b", channels: 4), TenantConfiguration(name: "c")]
        let merged = settings.applied(to: file)
        #expect(merged.runtimeDirectory == "/run/from-flag" && merged.workers == 2)
        #expect(merged.spinNanoseconds == 7000 && merged.runtimeDirectoryTrust == .anyOwner && merged.idlePolicy == .busySpin)
        #expect(merged.stateDirectory == "/var/lib/from-flag" && merged.snapshotIO == .ioUring && merged.snapshot == nil)
        #expect(merged.tenants.map(\.name) == ["a", "b", "c"])
        #expect(merged.tenants[0].weight == 5 && merged.tenants[1].channels == 4)
        #expect(merged.configurationFile == "f.toml")

        // A name given twice on the command line stays a duplicate.
        settings.tenants = [TenantConfiguration(name: "b"), TenantConfiguration(name: "b")]
        #expect(settings.applied(to: file).tenants.map(\.name) == ["a", "b", "b"])
        #expect(throws: DaemonError.self) { try settings.applied(to: file).validate() }

        // Neither file nor tenant: the embedded default's two demo tenants.
        #expect(CommandLineSettings().applied(to: nil).tenants.map(\.name) == ["demo-a", "demo-b"])
        // A file without tenants stays without: mused refuses to start.
        #expect(CommandLineSettings().applied(to: try ConfigFile.parse("workers = 1", file: "f")).tenants.isEmpty)
    }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/muse-config-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { $0.baseAddress.flatMap(mkdtemp).map { String(cString: $0) } }
        return try #require(path)
    }

    /// Expects `text` refused with exactly this line and key, and `message` in the message.
    static func expectRefused(_ text: String, line: Int?, key: String?, _ message: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let config = try ConfigFile.parse(text, file: "/etc/muse/mused.toml")
            Issue.record("accepted \(text.prefix(200).debugDescription): \(config.tenants.map(\.name))",
                         sourceLocation: sourceLocation)
        } catch {
            #expect(error.file == "/etc/muse/mused.toml" && error.line == line && error.key == key
                    && error.message.contains(message), "\(text.prefix(200).debugDescription): \(error)",
                    sourceLocation: sourceLocation)
        }
    }

    /// A table header or key path deeper than any of mused's keys is refused
    /// before TOMLKit sees it: its recursion and the line map's path building
    /// grew with the depth (50,000 levels overflowed the stack).
    @Test func aDeepKeyPathIsRefusedBeforeParsing() {
        let deep = Array(repeating: "a", count: 50_000).joined(separator: ".")
        func path(_ count: Int) -> String { Array(repeating: "a", count: count).joined(separator: ".") }
        let levels = "more than 8 levels deep"
        Self.expectRefused("workers = 1\n[\(deep)]\n", line: 2, key: path(9), levels)
        Self.expectRefused("workers = 1\n\n[[\(deep)]]\nx = 1\n", line: 3, key: path(9), levels)
        Self.expectRefused("# c\n\(deep) = 1\n", line: 2, key: path(9), levels)
        Self.expectRefused("[[tenant]]\nname = \"a\"\n[tenant.\(deep)]\n", line: 3, key: "tenant[0]." + path(8), levels)
        Self.expectRefused("[a.b.c.d]\ne.f.g.h.i = 1\n", line: 2, key: "a.b.c.d.e.f.g.h.i", levels)
        // Inline tables add their keys' levels; a quoted key is one level.
        Self.expectRefused("a = { b = { \"c.d\" = { e.f = { g = { h = { i = { j = 1 } } } } } } }\n", line: 1,
                           key: "a.b.c.d.e.f.g.h.i.j", levels)
        let nesting = "nested more than 8 deep"
        let arrays = String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000)
        Self.expectRefused("workers = 2\nworkers = \(arrays)\n", line: 2, key: "workers" + String(repeating: "[0]", count: 8), nesting)
        Self.expectRefused("x = [\n  1,\n  [[[[[[[[2]]]]]]]],\n]\n", line: 3, key: "x[1]" + String(repeating: "[0]", count: 7), nesting)
        let inline = String(repeating: "{a=", count: 50_000) + "1" + String(repeating: "}", count: 50_000)
        Self.expectRefused("b = \(inline)\n", line: 1, key: "b" + String(repeating: ".a", count: 8), levels)
        // At the limits the text reaches TOMLKit, and mused's own checks answer.
        Self.expectRefused("[\(path(8))]\n", line: 1, key: "a", "unknown key")
        Self.expectRefused("x = [[[[[[[[1]]]]]]]]\n", line: 1, key: "x", "unknown key")
        // Brackets, braces, dots and hashes inside strings are text.
        Self.expectRefused("idle_policy = \"[[[[[[[[[{{{{{{{{{a.a.a.a.a.a.a.a.a#\"\n", line: 1, key: "idle_policy", "expected one of")
        Self.expectRefused("idle_policy = '''[[[[[[[[[[\na.b.c.d.e.f.g.h.i.j = 1'''\n", line: 1, key: "idle_policy", "control character U+000A")
        Self.expectRefused("idle_policy = '[[[[[[[[[[ a.b.c.d.e.f.g.h.i.j'\n", line: 1, key: "idle_policy", "expected one of")
    }

    static let stringKeys: [(table: String, key: String, valid: String)] = [
        ("", "runtime_directory", "/run/muse-x"), ("", "state_directory", "/var/lib/muse-x"),
        ("", "snapshot", "/etc/muse/g.snapshot"), ("", "snapshot_io", "read"), ("", "admin_group", "0"),
        ("", "metrics_address", "127.0.0.1:9464"), ("", "idle_policy", "adaptive"),
        ("[[tenant]]\n", "name", "alpha"), ("[[tenant]]\nname = \"alpha\"\n", "group", "0"),
    ]

    /// How a control character gets into a string: escapes TOMLKit decodes
    /// (a NUL used to cut the string short there), and raw characters.
    static let controlCharacters: [(written: String, scalar: String)] = [
        ("\\u0000", "U+0000"), ("\\U00000000", "U+0000"), ("\\u001f", "U+001F"), ("\\u007F", "U+007F"),
        ("\\t", "U+0009"), ("\\n", "U+000A"), ("\\b", "U+0008"), ("\u{1}", "U+0001"), ("\u{0}", "U+0000"),
        ("\t", "U+0009"), ("\u{7F}", "U+007F"),
    ]

    @Test(arguments: stringKeys.indices)
    func aControlCharacterInAStringIsRefused(_ index: Int) {
        let (table, key, valid) = Self.stringKeys[index]
        let line = table.filter { $0 == "\n" }.count + 2
        let path = table.isEmpty ? key : "tenant[0].\(key)"
        for (written, scalar) in Self.controlCharacters {
            for value in [written + valid, valid + written, String(valid.prefix(2)) + written + String(valid.dropFirst(2))] {
                Self.expectRefused("workers = 1\n\(table)\(key) = \"\(value)\"\n", line: line, key: path, "control character \(scalar)")
            }
        }
        // Literal and multi-line strings too.
        Self.expectRefused("workers = 1\n\(table)\(key) = '\(valid)\u{1}'\n", line: line, key: path, "control character U+0001")
        Self.expectRefused("workers = 1\n\(table)\(key) = \"\"\"\(valid)\\u0000\"\"\"\n", line: line, key: path, "control character U+0000")
        Self.expectRefused("workers = 1\n\(table)\(key) = '''\n\(valid)\n'''\n", line: line, key: path, "control character U+000A")
        Self.expectRefused("workers = 1\n\(table)\(key) = \"\"\"\(valid)\n\"\"\"\n", line: line, key: path, "control character U+000A")
    }

    @Test func controlCharactersElsewhereAreRefused() {
        // A raw NUL used to end the document for TOMLKit: what followed was never read.
        Self.expectRefused("workers = 1\n# \u{0}\nworkers = 2\n", line: 2, key: nil, "control character U+0000")
        Self.expectRefused("workers = 1\u{0}\nworkerz = 2\n", line: 1, key: "workers", "control character U+0000")
        Self.expectRefused("[[tenant]]\n\"na\\u0000me\" = \"a\"\n", line: 2, key: "tenant[0].na\\u0000me", "control character U+0000")
        Self.expectRefused("[[tenant]]\nname = \"\"\"\nal\\u0000pha\n\"\"\"\n", line: 2, key: "tenant[0].name", "control character U+0000")
        Self.expectRefused("tenant = [{ name = \"a\" }, { name = \"b\\u0000\" }]\n", line: 1, key: "tenant[1].name",
                           "control character U+0000")
        Self.expectRefused("[[tenant]]\nname = \"a\"\nrate_limit = { burst = 1, events_per_second = \"\\u0001\" }\n", line: 3,
                           key: "tenant[0].rate_limit.events_per_second", "control character U+0001")
        // Tabs between tokens and CRLF line ends are TOML's own.
        let config = try? ConfigFile.parse("workers\t=\t2\r\n[[tenant]]\r\nname = \"a\"\t# a tenant\r\n", file: "f")
        #expect(config?.workers == 2 && config?.tenants.map(\.name) == ["a"])
    }

    /// An unknown or mistyped table is named with the line of its header,
    /// also when the header names it only as a parent or an array.
    static let unknownTables: [(String, Int, String, String)] = [
        ("workers = 1\n[[tenants]]\nname = \"a\"\n", 2, "tenants", "unknown key; the file's keys are"),
        ("workers = 1\n\n[nonsense.sub]\nx = 1\n", 3, "nonsense", "unknown key"),
        ("workers = 1\n[nonsense]\n", 2, "nonsense", "unknown key"),
        ("workers = 1\nnonsense.sub.x = 1\n", 2, "nonsense", "unknown key"),
        ("workers = 1\n[[tenant]]\nname = \"a\"\n[[tenant.extra]]\ny = 1\n", 4, "tenant[0].extra", "unknown key"),
        ("workers = 1\n[[tenant]]\nname = \"a\"\n[tenant.extra.deeper]\n", 4, "tenant[0].extra", "unknown key"),
        ("workers = 1\n[[workers]]\n", 2, "workers", "not valid TOML"),
        ("spin_us = 1\n[[workers]]\n", 2, "workers", "expected an integer, got an array"),
        ("[workers]\n", 1, "workers", "expected an integer, got a table"),
        ("[[promotion_gate]]\nmax_psi = 0.1\n", 1, "promotion_gate", "expected a table"),
        ("[[tenant]]\nname = \"a\"\n[[tenant.rate_limit]]\nburst = 1\n", 3, "tenant[0].rate_limit", "expected a table"),
        ("[promotion_gate.extra]\n", 1, "promotion_gate.extra", "unknown key"),
    ]

    @Test(arguments: unknownTables.indices)
    func anUnknownOrMistypedTableNamesItsLine(_ index: Int) {
        let (text, line, key, message) = Self.unknownTables[index]
        Self.expectRefused(text, line: line, key: key, message)
    }

    /// The start snapshot must be a regular file when the file is read,
    /// checked with stat(2) only: opening a FIFO would block.
    @Test func theSnapshotMustBeAnExistingRegularFile() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fifo = "\(directory)/fifo.snapshot"
        try #require(mkfifo(fifo, 0o600) == 0)
        let regular = "\(directory)/g.snapshot"
        try #require(FileManager.default.createFile(atPath: regular, contents: Data([1])))
        let head = "workers = 1\n\n"
        Self.expectRefused(head + "snapshot = \"\(directory)/missing.snapshot\"\n", line: 3, key: "snapshot", "No such file or directory")
        Self.expectRefused(head + "snapshot = \"/nonexistent/g.snap\"\n", line: 3, key: "snapshot", "No such file or directory")
        Self.expectRefused(head + "snapshot = \"\(fifo)\"\n", line: 3, key: "snapshot", "not a regular file (a FIFO)")
        Self.expectRefused(head + "snapshot = \"\(directory)\"\n", line: 3, key: "snapshot", "not a regular file (a directory)")
        Self.expectRefused(head + "snapshot = \"\(regular)/x\"\n", line: 3, key: "snapshot", "Not a directory")
        #expect(try ConfigFile.parse(head + "snapshot = \"\(regular)\"\n", file: "f").snapshot == regular)
    }

    /// The scan before TOMLKit reads TOML as TOML: a valid file within the
    /// limits passes, however it is written.
    @Test func validFilesPassTheScanHoweverWritten() throws {
        let text = "\u{FEFF}" + #"""
            # [[[[[[[[[ a.b.c.d.e.f.g.h.i.j = "\u0000" {{{{{{{{{
            "workers" = 2 # ]]]]
            'spin_us' = 7
            snapshot_io = """\	
                 	
              read"""
            idle_policy = 'low-power'
            admin_group = "\u0030"
            metrics_address = """127.0.0.1:9464"""
            promotion_gate = { "max_psi" = 0.5, min_events = 1_000 }
            state_directory = '''/var/lib/muse-'x'''''
            [[tenant]]
            name = "a\u002Db"
            rate_limit = { events_per_second = 5, burst = 6 } # } ] [
            [[tenant]]
            name = "c" ; ignored = 1
            """#
        let refused = #expect(throws: ConfigFileError.self) { try ConfigFile.parse(text, file: "f") }
        #expect(refused?.line == 16 && refused?.message.contains("not valid TOML") == true, "\(String(describing: refused))")
        let config = try ConfigFile.parse(text.replacingOccurrences(of: " ; ignored = 1", with: ""), file: "f")
        #expect(config.workers == 2 && config.spinNanoseconds == 7000 && config.snapshotIO == .plainRead)
        #expect(config.idlePolicy == .lowPower && config.adminGroup == "0" && config.metricsAddress?.port == 9464)
        #expect(config.promotionGate == PromotionGate(maximumPSI: 0.5, minimumEvents: 1000))
        #expect(config.stateDirectory == "/var/lib/muse-'x''")
        #expect(config.tenants.map(\.name) == ["a-b", "c"] && config.tenants[0].rateLimit == RateLimit(eventsPerSecond: 5, burst: 6))
    }
}
