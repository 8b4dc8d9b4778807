#if canImport(Glibc)
import Glibc
#endif
import CMuseTestSupport
import Foundation

/// A child process for tests: started with `posix_spawn`, its output read by
/// a thread of its own, and reaped with `waitpid` on its pid by this object
/// alone.
///
/// Tests do not use Foundation's `Process`: it learns that a child exited from
/// SIGCHLD, and in a test process where some threads block that signal and
/// others do not, the signal can be taken where nobody listens; `waitUntilExit`
/// then waits forever for a child that has long exited, and a whole test run
/// hangs without a word. `waitpid` on the pid cannot miss the exit.
///
/// The child starts clean: every signal at its default action and none
/// blocked (whatever the test process blocks), standard input from /dev/null
/// or from `input`, and no descriptor of the test process beyond 0, 1 and 2,
/// so a child never holds another child's pipe open.
public final class Subprocess: @unchecked Sendable {
    /// How the child ended.
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        /// The exit status, or the signal's number, as Foundation's
        /// `terminationStatus` reports either.
        public var status: Int32 {
            switch self { case .exited(let s), .signalled(let s): return s }
        }

        public var description: String {
            switch self {
            case .exited(let s): return "exit status \(s)"
            case .signalled(let s): return "signal \(s)"
            }
        }
    }

    public let pid: pid_t

    /// Guards `reaped`, `stdout` and `stderr`: written by the reader threads
    /// and by whichever caller reaps, read by any.
    private let lock = NSLock()
    private var reaped: Termination?
    private var stdout = [UInt8]()
    private var stderr = [UInt8]()
    /// Signalled once by each reader thread at end of file.
    private let readersDone = DispatchSemaphore(value: 0)
    private let readers: Int

    /// Starts `executable` (a path) with `arguments`.
    /// - Parameters:
    ///   - environment: the child's whole environment; nil: this process's.
    ///   - input: written to the child's standard input, which is then closed;
    ///     nil: standard input is /dev/null.
    ///   - separateErrors: standard error apart from standard output (read it
    ///     with `errors`); otherwise both go to `output`, interleaved as written.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                input: [UInt8]? = nil, separateErrors: Bool = false) throws {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // Every pipe is close-on-exec in this process; dup2 in the child's
        // actions clears the flag on the copy the child keeps.
        let out = try Self.pipe()
        let err = separateErrors ? try Self.pipe() : nil
        let stdin = input == nil ? nil : try Self.pipe()
        var closeHere = [out.write] + (err.map { [$0.write] } ?? []) + (stdin.map { [$0.read] } ?? [])
        defer { for fd in closeHere { close(fd) } }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, out.write, 1)
        posix_spawn_file_actions_adddup2(&actions, err?.write ?? out.write, 2)
        muse_test_spawn_close_from(&actions, 3)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var child: pid_t = 0
        let spawned = envp.map { posix_spawn(&child, executable, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        guard spawned == 0 else {
            for fd in [out.read] + (err.map { [$0.read] } ?? []) + (stdin.map { [$0.write] } ?? []) { close(fd) }
            throw SpawnError(executable: executable, errno: spawned)
        }
        pid = child
        readers = err == nil ? 1 : 2
        for fd in closeHere { close(fd) }
        closeHere = []

        read(out.read) { [self] bytes in stdout.append(contentsOf: bytes) }
        if let err { read(err.read) { [self] bytes in stderr.append(contentsOf: bytes) } }
        if let stdin, let input {
            // A child that exits unread must not kill this process with SIGPIPE:
            // the write fails with EPIPE instead.
            Self.ignoreBrokenPipes
            // On a thread, so a child that does not read cannot block the caller.
            Thread.detachNewThread {
                _ = input.withUnsafeBytes { buffer in
                    var done = 0
                    while done < buffer.count {
                        let n = Glibc.write(stdin.write, buffer.baseAddress! + done, buffer.count - done)
                        if n < 0 && errno == EINTR { continue }
                        if n <= 0 { break }
                        done += n
                    }
                }
                close(stdin.write)
            }
        }
    }

    deinit {
        if reap(blocking: false) == nil {
            Glibc.kill(pid, SIGKILL)
            _ = reap(blocking: true)
        }
    }

    // MARK: Output

    /// Standard output (and standard error, unless kept apart) so far.
    public var output: String { lock.withLock { String(decoding: stdout, as: UTF8.self) } }
    /// The same, as the bytes written.
    public var outputBytes: [UInt8] { lock.withLock { stdout } }
    /// Standard error so far, when kept apart.
    public var errors: String { lock.withLock { String(decoding: stderr, as: UTF8.self) } }

    // MARK: Exit

    /// Whether the child has not exited yet (reaping it if it has).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// How the child ended; nil while it runs.
    public var termination: Termination? { reap(blocking: false) }

    /// Sends `signal`, unless the child was already reaped (its pid may then
    /// name another process).
    public func kill(_ signal: Int32 = SIGKILL) {
        lock.withLock {
            if reaped == nil { _ = Glibc.kill(pid, signal) }
        }
    }

    /// Waits up to `seconds` for the child to exit; nil if it still runs.
    /// Once it has exited, waits (up to 10 s more) for its output to reach end
    /// of file, so `output` holds everything it wrote; a grandchild still
    /// holding the pipe cannot hang the caller.
    @discardableResult
    public func wait(seconds: Double) -> Termination? {
        let deadline = Date().addingTimeInterval(seconds)
        var ended = reap(blocking: false)
        while ended == nil && Date() < deadline {
            usleep(2000)
            ended = reap(blocking: false)
        }
        if ended != nil { waitForEndOfOutput(seconds: 10) }
        return ended
    }

    /// Waits for the child to exit, however long it takes.
    @discardableResult
    public func waitForExit() -> Termination {
        let ended = reap(blocking: true)!
        waitForEndOfOutput(seconds: 10)
        return ended
    }

    /// Runs a command to completion, killing it after `seconds`: its
    /// termination (nil if it had to be killed) and all it wrote.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           input: [UInt8]? = nil, seconds: Double = 600) throws -> (termination: Termination?, output: String) {
        let child = try Subprocess(executable, arguments, environment: environment, input: input)
        let ended = child.wait(seconds: seconds)
        if ended == nil {
            child.kill()
            child.waitForExit()
        }
        return (ended, child.output)
    }

    // MARK: Internals

    private var endedReaders = 0

    private func waitForEndOfOutput(seconds: Double) {
        let deadline = DispatchTime.now() + seconds
        while lock.withLock({ endedReaders }) < readers {
            if readersDone.wait(timeout: deadline) == .timedOut { return }
            lock.withLock { endedReaders += 1 }
        }
    }

    /// Blocking polls rather than waiting in `waitpid` under the lock, which
    /// would stop the readers appending, fill the pipe and block the child.
    private func reap(blocking: Bool) -> Termination? {
        while true {
            if let ended = reapNow() { return ended }
            if !blocking { return nil }
            usleep(2000)
        }
    }

    private func reapNow() -> Termination? {
        lock.withLock {
            if let reaped { return reaped }
            var status: Int32 = 0
            var r: pid_t
            repeat { r = waitpid(pid, &status, WNOHANG) } while r == -1 && errno == EINTR
            // 0: still running. −1 (ECHILD) cannot happen: only this object
            // reaps this pid, under this lock.
            guard r == pid else { return nil }
            let signal = status & 0x7f
            reaped = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
            return reaped
        }
    }

    private func read(_ fd: Int32, into append: @escaping @Sendable ([UInt8]) -> Void) {
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                lock.withLock { append(Array(buffer[0..<n])) }
            }
            close(fd)
            readersDone.signal()
        }
    }

    /// Set once, for the whole test process (children start with every
    /// signal at its default).
    private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    private static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard muse_test_pipe_cloexec(&fds) == 0 else { throw SpawnError(executable: "pipe2", errno: errno) }
        return (fds[0], fds[1])
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let executable: String
    public let errno: Int32
    public var description: String { "cannot start \(executable): \(String(cString: strerror(errno)))" }
}
