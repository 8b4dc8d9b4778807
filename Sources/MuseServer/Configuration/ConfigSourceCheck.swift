import MuseCore

/// What a configuration file may not hand to TOMLKit, found on its raw text
/// in one linear pass before TOMLKit parses it.
///
/// - Depth. TOMLKit (toml++) recurses once per level of a key path, array or
///   inline table, and `TOMLSourceLines` builds each level's path afresh:
///   a header of 50,000 dotted levels, well inside the 1 MiB file limit,
///   took seconds or overflowed the stack. mused's own keys are at most 3
///   levels deep (`[[tenant]]` › `rate_limit` › `burst`), so a key path of
///   more than `maxKeyDepth` components (the table header's, the key's and
///   those of enclosing inline tables), or arrays and inline tables nested
///   more than `maxNesting` deep, is refused.
/// - Control characters. TOMLKit hands strings and keys back as C strings:
///   a `\u0000` escape silently cut a tenant name short (`"al\u0000pha"`
///   served `al`), and a raw NUL ended the document there. Every string
///   mused reads is a name, a path, an address or a keyword, so an escape
///   that decodes to a control character (U+0000–U+001F, U+007F) or a raw
///   tab in any string is refused, and so is any raw control character
///   other than tab, line feed and carriage return anywhere (TOML allows
///   none). Raw line breaks inside multi-line strings are left to `Reader`,
///   which checks each decoded string.
///
/// The scan knows TOML's lexical structure (headers, dotted and quoted keys,
/// the four kinds of string, arrays, inline tables, comments) but checks no
/// syntax: whatever it lets through, TOMLKit still judges. Keys in its
/// errors are written as `Reader` writes them (`tenant[1].name`).
struct ConfigSourceCheck {
    static let maxKeyDepth = 8
    static let maxNesting = 8

    /// Throws the first problem in `text`, naming `file`, its line and key.
    static func check(_ text: String, file: String) throws(ConfigFileError) {
        var scan = ConfigSourceCheck(bytes: Array(text.utf8), file: file)
        try scan.document()
    }

    private let bytes: [UInt8]
    private let file: String
    private var index = 0
    private var line = 1
    /// The current table header's path, arrays of tables resolved to their latest element.
    private var table: [String] = []
    /// Elements so far of each array of tables, by resolved path.
    private var arrayCounts: [String: Int] = [:]
    /// Where the value being read sits: the table's path, then keys and
    /// array indices. Rendered only for an error.
    private var path: [PathPart] = []
    /// The keys in `path`.
    private var keyDepth = 0
    /// The top-level key/value pair being read, for errors outside its strings.
    private var currentKey: [PathPart]?

    private enum PathPart {
        case key(String)
        case index(Int)
    }

    private init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    // MARK: - Errors

    /// `parts` as `Reader` writes a path: `tenant[1].rate_limit.burst`.
    private static func rendered(_ parts: [PathPart]) -> String {
        var text = ""
        for part in parts {
            switch part {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }

    private func error(_ key: [PathPart]?, _ message: String, line: Int? = nil) -> ConfigFileError {
        ConfigFileError(file: file, line: line ?? self.line, key: key.map(Self.rendered), message: message)
    }

    /// `line`: where the string holding it began, if it was in one.
    private func controlError(_ key: [PathPart]?, _ scalar: UInt32, inString line: Int? = nil) -> ConfigFileError {
        guard let line else {
            return error(key, "control character \(Self.name(scalar)) outside a string: TOML allows none there")
        }
        return error(key, Self.controlInString(scalar), line: line)
    }

    /// The message for a string holding `scalar`, here or in `Reader`.
    static func controlInString(_ scalar: UInt32) -> String {
        "control character \(name(scalar)) in a string: names, paths and addresses may not contain control characters"
    }

    private static func name(_ scalar: UInt32) -> String {
        let hex = String(scalar, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    // MARK: - Bytes

    private var atEnd: Bool { index >= bytes.count }
    private func peek(_ offset: Int = 0) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    private static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    /// Consumes one byte outside any string, refusing a control character
    /// other than tab, line feed and carriage return (and counting lines).
    private mutating func consumeOutsideString() throws(ConfigFileError) {
        let byte = bytes[index]
        if byte == UInt8(ascii: "\n") {
            line += 1
        } else if Self.isControl(byte) && byte != UInt8(ascii: "\t") && byte != UInt8(ascii: "\r") {
            throw controlError(currentKey, UInt32(byte))
        }
        index += 1
    }

    private mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    /// Spaces, line breaks and comments, as arrays and inline tables may hold between values.
    private mutating func skipBlank() throws(ConfigFileError) {
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): try consumeOutsideString()
            case UInt8(ascii: "#"): try comment()
            default: return
            }
        }
    }

    private mutating func comment() throws(ConfigFileError) {
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            // A comment belongs to no key.
            if Self.isControl(byte) && byte != UInt8(ascii: "\t") && byte != UInt8(ascii: "\r") {
                throw controlError(nil, UInt32(byte))
            }
            index += 1
        }
    }

    private static func isBareKey(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    private static func startsKey(_ byte: UInt8) -> Bool {
        isBareKey(byte) || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
    }

    // MARK: - Document

    private mutating func document() throws(ConfigFileError) {
        // TOMLKit skips a byte order mark; so must the scan, or it would skip the first line.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        while !atEnd {
            // At the start of a line.
            currentKey = nil
            skipSpaces()
            guard let byte = peek() else { return }
            if byte == UInt8(ascii: "[") {
                try header()
            } else if Self.startsKey(byte) {
                path = table.map(PathPart.key)
                keyDepth = table.count
                try keyValue(topLevel: true)
            }
            // The rest of the line: a comment, or what TOMLKit will refuse.
            while let byte = peek(), byte != UInt8(ascii: "\n") {
                if byte == UInt8(ascii: "#") { try comment() } else { try consumeOutsideString() }
            }
            if !atEnd { try consumeOutsideString() }
        }
    }

    /// `[a.b]` or `[[a.b]]`.
    private mutating func header() throws(ConfigFileError) {
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        path = []
        keyDepth = 0
        let name = try key(resolving: true)
        if isArray {
            let parent = TOMLSourceLines.resolveComponents(Array(name.dropLast()), arrayCounts)
            let array = (parent + [name.last ?? ""]).joined(separator: ".")
            let count = arrayCounts[array, default: 0]
            arrayCounts[array] = count + 1
            table = parent + ["\(name.last ?? "")[\(count)]"]
        } else {
            table = TOMLSourceLines.resolveComponents(name, arrayCounts)
        }
        skipSpaces()
        if peek() == UInt8(ascii: "]") { index += 1 }
        if isArray && peek() == UInt8(ascii: "]") { index += 1 }
    }

    /// A dotted key, each component pushed on `path`; refused once the path
    /// has more than `maxKeyDepth` keys. A header's (`resolving`) is named
    /// as `Reader` names it. Stops at what follows the key.
    private mutating func key(resolving: Bool = false) throws(ConfigFileError) -> [String] {
        var components: [String] = []
        func named() -> [PathPart] {
            resolving ? TOMLSourceLines.resolveComponents(components, arrayCounts).map(PathPart.key) : path
        }
        while true {
            skipSpaces()
            guard let byte = peek() else { break }
            var component = ""
            var control: UInt32?
            let startLine = line
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                (component, control) = string(keepingText: true)
            } else if Self.isBareKey(byte) {
                let start = index
                while let next = peek(), Self.isBareKey(next) { index += 1 }
                component = String(decoding: bytes[start..<index], as: UTF8.self)
            } else {
                break
            }
            components.append(component)
            path.append(.key(component))
            keyDepth += 1
            if let control { throw controlError(named(), control, inString: startLine) }
            if keyDepth > Self.maxKeyDepth { throw tooDeep(named()) }
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { break }
            index += 1
        }
        return components
    }

    private func tooDeep(_ key: [PathPart]) -> ConfigFileError {
        error(key, "the key path is more than \(Self.maxKeyDepth) levels deep (mused's own keys are at most 3)")
    }

    /// `key = value`, under `path`; leaves `path` as it found it.
    private mutating func keyValue(topLevel: Bool = false, nesting: Int = 0) throws(ConfigFileError) {
        let (depth, parts) = (keyDepth, path.count)
        defer {
            path.removeLast(path.count - parts)
            keyDepth = depth
        }
        _ = try key()
        if topLevel { currentKey = path }
        skipSpaces()
        guard peek() == UInt8(ascii: "=") else { return }
        index += 1
        skipSpaces()
        try value(nesting: nesting)
    }

    /// One value at `path`: a string, an array, an inline table, or
    /// anything else (numbers, booleans, dates: TOMLKit's to judge).
    private mutating func value(nesting: Int) throws(ConfigFileError) {
        guard let byte = peek() else { return }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            let startLine = line
            let (_, control) = string(keepingText: false)
            if let control { throw controlError(path, control, inString: startLine) }
        case UInt8(ascii: "["):
            guard nesting < Self.maxNesting else { throw nestedTooDeep() }
            index += 1
            var element = 0
            while true {
                try skipBlank()
                guard let next = peek() else { return }
                if next == UInt8(ascii: "]") { index += 1; return }
                if next == UInt8(ascii: ",") { index += 1; continue }
                // TOMLKit refuses these here; stop before it could recurse.
                if next == UInt8(ascii: "}") || next == UInt8(ascii: "=") { return }
                path.append(.index(element))
                try value(nesting: nesting + 1)
                path.removeLast()
                element += 1
            }
        case UInt8(ascii: "{"):
            guard nesting < Self.maxNesting else { throw nestedTooDeep() }
            index += 1
            while true {
                try skipBlank()
                guard let next = peek() else { return }
                if next == UInt8(ascii: "}") { index += 1; return }
                if next == UInt8(ascii: ",") { index += 1; continue }
                guard Self.startsKey(next) else { return }
                try keyValue(nesting: nesting + 1)
            }
        default:
            // At least one byte, so arrays and tables always move on.
            try consumeOutsideString()
            while let next = peek(), !Self.endsScalar(next) { try consumeOutsideString() }
        }
    }

    private func nestedTooDeep() -> ConfigFileError {
        error(path, "arrays and inline tables nested more than \(Self.maxNesting) deep (mused's own values need at most 3)")
    }

    private static func endsScalar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: ","),
             UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "#"),
             UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "="): true
        default: false
        }
    }

    // MARK: - Strings

    /// Reads a string of any of TOML's four kinds; returns its text as
    /// written if asked, control characters escaped (for naming a key), and the
    /// first control character it holds (escaped, or a raw tab or other
    /// control character; line breaks in a multi-line string are the
    /// reader's to judge). Reads on after it, so a quoted key is named whole.
    private mutating func string(keepingText: Bool) -> (String, UInt32?) {
        let quote = bytes[index]
        let multiLine = peek(1) == quote && peek(2) == quote
        index += multiLine ? 3 : 1
        let start = index
        var control: UInt32?
        func note(_ scalar: UInt32) { if control == nil { control = scalar } }
        while let byte = peek() {
            if byte == quote {
                if !multiLine {
                    let text = keepingText ? Self.printable(bytes[start..<index]) : ""
                    index += 1
                    return (text, control)
                }
                if peek(1) == quote && peek(2) == quote {
                    // Up to two quotes right before the closing three belong to the string.
                    var run = 3
                    while run < 5 && peek(run) == quote { run += 1 }
                    let text = keepingText ? Self.printable(bytes[start..<(index + run - 3)]) : ""
                    index += run
                    return (text, control)
                }
                index += 1
            } else if byte == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
                if let scalar = escape(multiLine: multiLine) { note(scalar) }
            } else if byte == UInt8(ascii: "\n") {
                // A single-line string ends unclosed here: TOMLKit's error.
                guard multiLine else { break }
                line += 1
                index += 1
            } else {
                if Self.isControl(byte) && !(multiLine && byte == UInt8(ascii: "\r")) { note(UInt32(byte)) }
                index += 1
            }
        }
        return (keepingText ? Self.printable(bytes[start..<index]) : "", control)
    }

    /// `text` with each control character written as a TOML escape.
    private static func printable(_ text: ArraySlice<UInt8>) -> String {
        guard text.contains(where: isControl) else { return String(decoding: text, as: UTF8.self) }
        var escaped: [UInt8] = []
        for byte in text {
            if isControl(byte) {
                let hex = String(byte, radix: 16, uppercase: true)
                escaped += Array("\\u00\(hex.count == 1 ? "0" : "")\(hex)".utf8)
            } else {
                escaped.append(byte)
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }

    /// Consumes a backslash escape in a basic string; returns the control
    /// character it stands for, if it stands for one.
    private mutating func escape(multiLine: Bool) -> UInt32? {
        index += 1
        guard let letter = peek() else { return nil }
        if multiLine && Self.isBlank(letter) {
            // A line-ending backslash: the line break and the blanks around
            // it are not part of the string.
            var ahead = index
            while ahead < bytes.count, Self.isBlank(bytes[ahead]), bytes[ahead] != UInt8(ascii: "\n") { ahead += 1 }
            // Else TOMLKit refuses the escape.
            guard ahead < bytes.count, bytes[ahead] == UInt8(ascii: "\n") else { return nil }
            while let byte = peek(), Self.isBlank(byte) {
                if byte == UInt8(ascii: "\n") { line += 1 }
                index += 1
            }
            return nil
        }
        let digits: Int
        switch letter {
        case UInt8(ascii: "u"): digits = 4
        case UInt8(ascii: "U"): digits = 8
        case UInt8(ascii: "x"): digits = 2
        case UInt8(ascii: "b"): index += 1; return 0x08
        case UInt8(ascii: "t"): index += 1; return 0x09
        case UInt8(ascii: "n"): index += 1; return 0x0A
        case UInt8(ascii: "f"): index += 1; return 0x0C
        case UInt8(ascii: "r"): index += 1; return 0x0D
        case UInt8(ascii: "e"): index += 1; return 0x1B
        default:
            // A line break, raw control character or blank is left to the
            // string's own reading; anything else is TOMLKit's to judge.
            if !Self.isControl(letter) && letter != UInt8(ascii: " ") { index += 1 }
            return nil
        }
        index += 1
        var scalar: UInt32 = 0
        for _ in 0..<digits {
            guard let byte = peek(), let digit = Self.hexValue(byte) else { return nil }
            scalar = scalar << 4 | digit
            index += 1
        }
        return scalar < 0x20 || scalar == 0x7F ? scalar : nil
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
