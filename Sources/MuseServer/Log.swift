#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Structured log lines (logfmt) on standard output, for journald.
///
/// When standard output is the journal (systemd names it in
/// `$JOURNAL_STREAM`), each line starts with its sd-daemon priority (`<3>`
/// error, `<4>` warning, `<6>` info, `<7>` debug), which journald strips and
/// records, so `journalctl -p warning` finds warnings and errors. Anywhere
/// else lines are plain logfmt.
public enum Log {
    public enum Level: String, Sendable {
        case debug, info, warning, error

        /// The syslog priority (sd-daemon(3)'s `SD_ERR` … `SD_DEBUG`).
        public var priority: Int {
            switch self {
            case .error: 3
            case .warning: 4
            case .info: 6
            case .debug: 7
            }
        }
    }

    public static func info(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.info, event, fields) }
    public static func warning(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.warning, event, fields) }
    public static func error(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.error, event, fields) }

    /// Silences every line: for tests that run daemons in process.
    public static let muted = Atomic<Bool>(false)

    /// Whether lines carry priorities: decided once, from the environment
    /// and standard output at the first line.
    static let toJournal = standardOutputIsJournal()

    public static func write(_ level: Level, _ event: String, _ fields: KeyValuePairs<String, Any>) {
        write(level, event, fields.map { ($0.key, $0.value) })
    }

    /// As above, with fields a caller assembled (in order).
    static func write(_ level: Level, _ event: String, _ fields: [(String, Any)]) {
        if muted.load(ordering: .relaxed) { return }
        let line = format(level, event, fields, priority: toJournal)
        // One write(2) per line, so lines from different threads never interleave.
        line.withCString { _ = Glibc.write(STDOUT_FILENO, $0, strlen($0)) }
    }

    /// One line, newline included; with `priority`, prefixed for journald.
    public static func format(_ level: Level, _ event: String, _ fields: KeyValuePairs<String, Any>,
                              priority: Bool) -> String {
        format(level, event, fields.map { ($0.key, $0.value) }, priority: priority)
    }

    static func format(_ level: Level, _ event: String, _ fields: [(String, Any)], priority: Bool) -> String {
        var line = priority ? "<\(level.priority)>" : ""
        line += "level=\(level.rawValue) event=\(event)"
        for (key, value) in fields { line += " \(key)=\(quoted(String(describing: value)))" }
        return line + "\n"
    }

    /// Whether `journalStream` (`$JOURNAL_STREAM`, "DEVICE:INODE" in
    /// decimal) names the file with this device and inode. A process started
    /// by a service inherits the variable even with its output redirected,
    /// so the variable alone does not say the output is the journal.
    public static func isJournalStream(_ journalStream: String?, device: UInt64, inode: UInt64) -> Bool {
        guard let parts = journalStream?.split(separator: ":", omittingEmptySubsequences: false), parts.count == 2,
              let streamDevice = UInt64(parts[0]), let streamInode = UInt64(parts[1])
        else { return false }
        return streamDevice == device && streamInode == inode
    }

    private static func standardOutputIsJournal() -> Bool {
        guard let variable = getenv("JOURNAL_STREAM") else { return false }
        var info = stat()
        guard fstat(STDOUT_FILENO, &info) == 0 else { return false }
        return isJournalStream(String(cString: variable), device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    private static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.allSatisfy { !$0.isWhitespace && $0 != "\"" && $0 != "=" }
        if plain { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
