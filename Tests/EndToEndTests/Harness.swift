#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseTestSupport
import Testing

/// Paths and processes for tests that run a real mused and real C clients.
enum Harness {
    static let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static var header: URL { packageRoot.appending(path: "Sources/CMuse/include") }

    /// mused from the same build as this test binary, unless MUSE_MUSED names
    /// another (the test script points it at an AddressSanitizer build).
    static var mused: String {
        if let path = ProcessInfo.processInfo.environment["MUSE_MUSED"], !path.isEmpty { return path }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(filePath: me).deletingLastPathComponent().appending(path: "mused").path
    }

    /// The C test client, compiled once per run with the strict flags.
    static let testClient: String = {
        let out = FileManager.default.temporaryDirectory.appending(path: "muse-test-client-\(getpid())").path
        let source = packageRoot.appending(path: "Tests/EndToEndTests/clients/muse_test_client.c").path
        let result = run("/usr/bin/env", ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                                         "-pthread", "-I", header.path, source, "-o", out, "-lm"])
        precondition(result.status == 0, "cannot build the C test client:\n\(result.output)")
        return out
    }()

    /// The same test client built against the ABI 1.0 header (a copy kept in
    /// clients/abi-1.0): old clients must keep working with a newer mused.
    static let testClientABI10: String = {
        let out = FileManager.default.temporaryDirectory.appending(path: "muse-test-client-1.0-\(getpid())").path
        let source = packageRoot.appending(path: "Tests/EndToEndTests/clients/muse_test_client.c").path
        let old = packageRoot.appending(path: "Tests/EndToEndTests/clients/abi-1.0").path
        let result = run("/usr/bin/env", ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                                         "-pthread", "-I", old, source, "-o", out, "-lm"])
        precondition(result.status == 0, "cannot build the ABI 1.0 test client:\n\(result.output)")
        return out
    }()

    /// mused's worker idle policies (--idle-policy); the exactly-once,
    /// restart and hostile-client tests run under each. MUSE_IDLE_POLICIES
    /// (comma-separated) narrows the list: the sanitizer stages of
    /// tools/test.sh run the default only, to keep CI time.
    static let idlePolicies: [String] = {
        let all = ["busy-spin", "adaptive", "low-power"]
        guard let only = ProcessInfo.processInfo.environment["MUSE_IDLE_POLICIES"], !only.isEmpty else { return all }
        return only.split(separator: ",").map(String.init)
    }()

    /// The client idle policies (muse_wait_idle) the exactly-once test's
    /// clients take in turn: at most one busy-spinning client, as two cores
    /// cannot carry several beside a busy-spinning mused.
    static let clientIdlePolicies = ["adaptive", "low-power", "busy-spin", "adaptive", "low-power"]

    struct Result { let status: Int32; let output: String }

    /// Runs a command to completion, capturing stdout and stderr together; a
    /// command still running after 10 minutes is killed (status −1).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) -> Result {
        do {
            let (termination, output) = try Subprocess.run(executable, arguments)
            return Result(status: termination?.status ?? -1, output: output)
        } catch {
            return Result(status: -1, output: "\(error)")
        }
    }

    /// The CPU seconds (user and system) process `pid` has used, from
    /// /proc/PID/stat; −1 if it cannot be read.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return -1 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // utime and stime are fields 14 and 15; fields[0] here is field 3.
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A fresh runtime directory that other users can traverse (mode 0755), so
    /// that the segment's own mode is what decides access.
    static func runtimeDirectory() -> String {
        var template = Array("/tmp/muse-e2e-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        chmod(path, 0o755)
        return path
    }
}

/// A child process whose output is collected in the background (see
/// `Subprocess`, which starts and reaps it).
final class Child: Sendable {
    let subprocess: Subprocess

    init(_ executable: String, _ arguments: [String]) throws {
        subprocess = try Subprocess(executable, arguments)
    }

    var pid: Int32 { subprocess.pid }
    var output: String { subprocess.output }
    var isRunning: Bool { subprocess.isRunning }
    /// Whether the child ended by exiting (not by a signal); nil while it runs.
    var exited: Bool? {
        subprocess.termination.map { if case .exited = $0 { true } else { false } }
    }

    func kill(_ signal: Int32 = SIGKILL) { subprocess.kill(signal) }

    /// Waits for exit up to `seconds`; kills the child if it overstays (nil).
    /// The exit status, or the signal's number if a signal ended it.
    @discardableResult
    func wait(seconds: Double) -> Int32? {
        if let ended = subprocess.wait(seconds: seconds) { return ended.status }
        kill()
        subprocess.waitForExit()
        return nil
    }

    /// Waits for exit however long it takes.
    func waitForExit() { subprocess.waitForExit() }

    /// Polls the collected output until `text` appears.
    func waitForOutput(containing text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.contains(text) { return true }
            usleep(5000)
        }
        return false
    }
}

/// A real mused on a private runtime directory.
final class DaemonUnderTest {
    let runtimeDirectory: String
    let tenants: [String]
    /// More mused arguments (e.g. --snapshot), used at every (re)start.
    let extraArguments: [String]
    private(set) var child: Child
    private(set) var logs = ""

    /// Its own state directory beside the runtime directory, so no test sees
    /// another's recorded snapshot.
    var stateDirectory: String { runtimeDirectory + ".state" }

    init(tenants: [String], runtimeDirectory: String = Harness.runtimeDirectory(), arguments: [String] = []) throws {
        self.runtimeDirectory = runtimeDirectory
        self.tenants = tenants
        extraArguments = arguments
        child = try Self.launch(runtimeDirectory: runtimeDirectory, tenants: tenants, extraArguments: arguments)
    }

    private static func launch(runtimeDirectory: String, tenants: [String], extraArguments: [String]) throws -> Child {
        let child = try Child(Harness.mused, ["--runtime-dir", runtimeDirectory, "--state-dir", runtimeDirectory + ".state"]
                              + extraArguments + tenants.flatMap { ["--tenant", $0] })
        guard child.waitForOutput(containing: "event=serving", seconds: 20) else {
            throw DaemonDidNotStart(output: child.output)
        }
        return child
    }

    var isRunning: Bool { child.isRunning }

    func kill() {
        child.kill(SIGKILL)
        child.wait(seconds: 10)
        logs += child.output
    }

    func restart() throws {
        child = try Self.launch(runtimeDirectory: runtimeDirectory, tenants: tenants, extraArguments: extraArguments)
    }

    func stop() -> Int32? {
        child.kill(SIGTERM)
        let status = child.wait(seconds: 10)
        logs += child.output
        return status
    }

    deinit {
        if child.isRunning { child.kill(SIGKILL); child.waitForExit() }
        try? FileManager.default.removeItem(atPath: runtimeDirectory)
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }

    /// Starts the C test client in `mode` against `tenant`.
    func client(_ mode: String, _ tenant: String, _ arguments: [String] = []) throws -> Child {
        try Child(Harness.testClient, [mode, runtimeDirectory, tenant] + arguments)
    }
}

struct DaemonDidNotStart: Error, CustomStringConvertible {
    let output: String
    var description: String { "mused did not report serving:\n\(output)" }
}

/// Parses "key=value" pairs from a client's result line.
func fields(_ line: String) -> [String: String] {
    var result: [String: String] = [:]
    for pair in line.split(whereSeparator: \.isWhitespace) {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
    }
    return result
}
