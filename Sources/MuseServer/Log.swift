#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Structured log lines (logfmt) on standard output, for journald.
public enum Log {
    public enum Level: String, Sendable { case debug, info, warning, error }

    public static func info(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.info, event, fields) }
    public static func warning(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.warning, event, fields) }
    public static func error(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.error, event, fields) }

    /// Silences every line: for tests that run daemons in process.
    public static let muted = Atomic<Bool>(false)

    public static func write(_ level: Level, _ event: String, _ fields: KeyValuePairs<String, Any>) {
        if muted.load(ordering: .relaxed) { return }
        var line = "level=\(level.rawValue) event=\(event)"
        for (key, value) in fields { line += " \(key)=\(quoted(String(describing: value)))" }
        line += "\n"
        // One write(2) per line, so lines from different threads never interleave.
        line.withCString { _ = Glibc.write(STDOUT_FILENO, $0, strlen($0)) }
    }

    private static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.allSatisfy { !$0.isWhitespace && $0 != "\"" && $0 != "=" }
        if plain { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
