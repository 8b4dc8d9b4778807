/// Rows of feature values from CSV bytes, arranged for a model.
///
/// The header names the columns; columns are matched to the model's features
/// by name (extra columns are ignored, a missing feature is an error). An
/// empty field, `nan` or `NaN` is a missing value. Quoting follows RFC 4180
/// as pandas writes it: a field in double quotes may hold commas, line breaks
/// and doubled quotes; lines end in LF or CRLF. A quoted number is read from
/// the text between the quotes, exactly as the same number unquoted.
public struct FeatureCSV: Sendable {
    /// Row after row, `featureNames.count` values each, in the model's feature order.
    public let values: [Double]
    public let rowCount: Int

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let message: String
        public var description: String { line > 0 ? "line \(line): \(message)" : message }
    }

    public init(_ bytes: [UInt8], featureNames: [String]) throws(ParseError) {
        var records = Records(bytes)
        guard let header = try records.next() else { throw ParseError(line: 0, message: "the input is empty (expected a header of feature names)") }
        let columns = header.fields.map { Self.trim(Substring($0)) }
        var columnOf: [String: Int] = [:]
        for (i, name) in columns.enumerated() {
            guard columnOf[name] == nil else { throw ParseError(line: header.number, message: "column '\(name)' appears twice in the header") }
            columnOf[name] = i
        }
        var slot: [Int] = []  // for each model feature, its CSV column
        for name in featureNames {
            guard let c = columnOf[name] else { throw ParseError(line: header.number, message: "the header has no column for model feature '\(name)'") }
            slot.append(c)
        }
        var values: [Double] = []
        var rows = 0
        while let line = try records.next() {
            let fields = line.fields
            guard fields.count == columns.count else {
                throw ParseError(line: line.number, message: "has \(fields.count) fields but the header has \(columns.count)")
            }
            for (f, c) in slot.enumerated() {
                let field = fields[c]
                let trimmed = Substring(field).drop { $0 == " " }
                if trimmed.isEmpty || trimmed == "nan" || trimmed == "NaN" {
                    values.append(.nan)
                } else if let v = Double(trimmed), !v.isNaN {
                    values.append(v)
                } else {
                    throw ParseError(line: line.number, message: "column '\(featureNames[f])': '\(field.prefix(40))' is not a number")
                }
            }
            rows += 1
        }
        self.values = values
        self.rowCount = rows
    }

    static func trim(_ s: Substring) -> String {
        var t = s.drop { $0 == " " }
        while t.last == " " { t = t.dropLast() }
        return String(t)
    }

    /// RFC 4180 records, each with the number of the line it starts on;
    /// blank lines are skipped.
    struct Records {
        private let bytes: [UInt8]
        private var i = 0
        private var line = 1

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")

        /// At a line end (LF, CRLF or a CR before the end), its length; else nil.
        private func lineEnd(_ k: Int) -> Int? {
            guard k < bytes.count else { return nil }
            if bytes[k] == Self.lf { return 1 }
            if bytes[k] == Self.cr {
                if k + 1 < bytes.count, bytes[k + 1] == Self.lf { return 2 }
                if k + 1 == bytes.count { return 1 }
            }
            return nil
        }

        mutating func next() throws(ParseError) -> (number: Int, fields: [String])? {
            while i < bytes.count, let n = lineEnd(i) { i += n; line += 1 }
            guard i < bytes.count else { return nil }
            let start = line
            var fields: [String] = []
            while true {
                var field: [UInt8] = []
                var k = i
                while k < bytes.count, bytes[k] == UInt8(ascii: " ") { k += 1 }
                if k < bytes.count, bytes[k] == Self.quote {
                    let opened = line
                    k += 1
                    while true {
                        guard k < bytes.count else {
                            throw ParseError(line: opened, message: "a quoted field is not closed before the end of the input")
                        }
                        let b = bytes[k]
                        if b == Self.quote {
                            if k + 1 < bytes.count, bytes[k + 1] == Self.quote { field.append(Self.quote); k += 2; continue }
                            k += 1
                            break
                        }
                        if b == Self.lf { line += 1 }
                        field.append(b)
                        k += 1
                    }
                    while k < bytes.count, bytes[k] == UInt8(ascii: " ") { k += 1 }
                    guard k == bytes.count || bytes[k] == Self.comma || lineEnd(k) != nil else {
                        throw ParseError(line: line, message: "field \(fields.count + 1): text after the closing quote of a quoted field")
                    }
                } else {
                    k = i
                    while k < bytes.count, bytes[k] != Self.comma, lineEnd(k) == nil { field.append(bytes[k]); k += 1 }
                }
                fields.append(String(decoding: field, as: UTF8.self))
                i = k
                if i < bytes.count, bytes[i] == Self.comma { i += 1; continue }
                if let n = lineEnd(i) { i += n; line += 1 }
                return (start, fields)
            }
        }
    }
}
