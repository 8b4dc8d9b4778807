import ArgumentParser
import Foundation

/// `--json`, which every command takes: one JSON object on standard output
/// instead of text, `"ok": true` with the command's result, or on any
/// failure `{"ok": false, "error": "..."}` with a non-zero exit status.
struct JSONOption: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON object for machines instead of text (errors too, as {\"ok\": false, \"error\": ...}).")
    var json = false
}

enum JSONOutput {
    /// Sorted keys and indentation, as every musectl JSON answer; NaN and
    /// infinities (a map applied to a missing score) as strings, which JSON lacks.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                      nan: "nan")
        return encoder
    }

    static func print<T: Encodable>(_ value: T) throws {
        let data = try encoder().encode(value)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    struct Failure: Encodable {
        let ok = false
        let error: String
    }

    static func printError(_ message: String) {
        try? print(Failure(error: message))
    }

    /// Whether the command line asks for JSON: `--json` before any `--`.
    /// Read from the arguments themselves, so a command line that does not
    /// parse is answered in JSON too.
    static func requested(_ arguments: [String]) -> Bool {
        arguments.prefix { $0 != "--" }.contains("--json")
    }
}
