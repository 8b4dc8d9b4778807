/// Where each key of a TOML document is written, by line.
///
/// TOMLKit reports lines for syntax errors only; a value that is well-formed
/// TOML but wrong for mused (an unknown key, a wrong type, a number out of
/// range, a tenant named twice) is found by its path instead, and this map
/// turns the path back into the line that wrote it. mused's configuration
/// file and `musectl snapshot build`'s manifest both use it.
///
/// Paths are the parser's own: `workers`, `tenant[1]` (the second
/// `[[tenant]]` table), `tenant[1].rate_limit.burst`. The scan is a small
/// line-oriented reading of TOML: table headers, arrays of tables, bare,
/// quoted and dotted keys, inline tables on one line, and multi-line strings
/// (skipped). It is asked about paths of a document TOMLKit has accepted, and
/// about the key a syntax error's line writes. Each level's path is built
/// whole, a cost that grows with the square of the depth: callers keep key
/// paths shallow first.
public struct TOMLSourceLines: Sendable {
    private var lines: [String: Int] = [:]
    /// Line → the first key assigned on it (table headers are not assignments).
    private var assignments: [Int: String] = [:]

    public init(_ text: String) {
        var table: [String] = []
        var arrayCounts: [String: Int] = [:]
        var openString: String?
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            // Inside a multi-line string nothing is a key; the closing line
            // holds none either (a key starts a line).
            if let delimiter = openString {
                if raw.contains(delimiter) { openString = nil }
                continue
            }
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.first == "#" { continue }
            if line.hasPrefix("[[") {
                let name = Self.keyComponents(line.dropFirst(2).prefix { $0 != "]" })
                // The element itself is addressed as e.g. tenant[1].
                let parent = Self.resolveComponents(Array(name.dropLast()), arrayCounts)
                let array = (parent + [name.last ?? ""]).joined(separator: ".")
                let count = arrayCounts[array, default: 0]
                arrayCounts[array] = count + 1
                // The array itself is first written here too (a mistyped
                // or unknown array of tables is named by it).
                record(parent + [name.last ?? ""], number)
                table = parent + ["\(name.last ?? "")[\(count)]"]
                record(table, number)
                continue
            }
            if line.hasPrefix("[") {
                let name = Self.keyComponents(line.dropFirst().prefix { $0 != "]" })
                table = Self.split(Self.resolve(name, arrayCounts))
                record(table, number)
                continue
            }
            guard let equals = Self.firstUnquoted("=", in: line) else { continue }
            let key = table + Self.keyComponents(line[..<equals])
            record(key, number)
            assignments[number] = key.joined(separator: ".")
            let value = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            if value.first == "{" { recordInline(value.dropFirst(), under: key, number) }
            for delimiter in ["\"\"\"", "'''"] where value.hasPrefix(delimiter) {
                if !value.dropFirst(3).contains(delimiter) { openString = delimiter }
            }
        }
    }

    /// The line that wrote `path`, or else the nearest enclosing table's. An
    /// element of an array value (`weights[1]`) is on its array's line.
    public func line(of path: String) -> Int? {
        var components = Self.split(path)
        while let last = components.last {
            if let line = lines[components.joined(separator: ".")] { return line }
            if last.hasSuffix("]"), let open = last.lastIndex(of: "[") {
                components[components.count - 1] = String(last[..<open])
            } else {
                components.removeLast()
            }
        }
        return nil
    }

    /// The path of the key assigned on `line`, if one is (for a syntax
    /// error, which TOMLKit reports by line only).
    public func key(writtenOn line: Int) -> String? { assignments[line] }

    /// `path` and each table above it, where first written: `[a.b]` and
    /// `a.b.c = 1` write `a` too, if nothing did before.
    private mutating func record(_ path: [String], _ line: Int) {
        var key = ""
        for (index, component) in path.enumerated() {
            key += index == 0 ? component : ".\(component)"
            if lines[key] == nil { lines[key] = line }
        }
    }

    /// `a = 1, b = { c = 2 }` after an inline table's opening brace.
    private mutating func recordInline(_ text: Substring, under parent: [String], _ line: Int) {
        var rest = text
        while let equals = Self.firstUnquoted("=", in: rest) {
            let keyText = rest[..<equals]
            // The key is what follows the last separator before the "=".
            let start = keyText.lastIndex { $0 == "," || $0 == "{" }.map { keyText.index(after: $0) } ?? keyText.startIndex
            let key = parent + Self.keyComponents(keyText[start...])
            record(key, line)
            rest = rest[rest.index(after: equals)...]
            let value = rest.drop { $0 == " " || $0 == "\t" }
            if value.first == "{" {
                // A nested inline table: its keys are under this one.
                var depth = 0
                var end = value.startIndex
                for index in value.indices {
                    if value[index] == "{" { depth += 1 }
                    if value[index] == "}" { depth -= 1; if depth == 0 { end = index; break } }
                }
                recordInline(value[value.index(after: value.startIndex)..<end], under: key, line)
                rest = value[end...]
            } else if let comma = Self.firstUnquoted(",", in: rest) {
                rest = rest[rest.index(after: comma)...]
            } else {
                break
            }
        }
    }

    /// A (possibly dotted, possibly quoted) key's components.
    public static func keyComponents(_ text: Substring) -> [String] {
        var components: [String] = []
        var current = ""
        var quote: Character?
        for character in text {
            if let q = quote {
                if character == q { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "." {
                components.append(current)
                current = ""
            } else if character != " " && character != "\t" {
                current.append(character)
            }
        }
        components.append(current)
        return components
    }

    /// A table header's path, with each array of tables on the way replaced
    /// by its latest element (that is where TOML puts the header).
    private static func resolve(_ name: [String], _ arrayCounts: [String: Int]) -> String {
        resolveComponents(name, arrayCounts).joined(separator: ".")
    }

    /// `name`, each array of tables in it resolved to its latest element (`tenant[1]`).
    public static func resolveComponents(_ name: [String], _ arrayCounts: [String: Int]) -> [String] {
        var resolved: [String] = []
        for component in name {
            let path = (resolved + [component]).joined(separator: ".")
            if let count = arrayCounts[path], count > 0 {
                resolved.append("\(component)[\(count - 1)]")
            } else {
                resolved.append(component)
            }
        }
        return resolved
    }

    private static func split(_ path: String) -> [String] {
        path.isEmpty ? [] : path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    /// The first `character` outside a quoted string.
    private static func firstUnquoted(_ character: Character, in text: Substring) -> Substring.Index? {
        var quote: Character?
        var escaped = false
        for index in text.indices {
            let c = text[index]
            if let q = quote {
                if escaped { escaped = false } else if c == "\\" && q == "\"" { escaped = true } else if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                return nil
            } else if c == character {
                return index
            }
        }
        return nil
    }
}
