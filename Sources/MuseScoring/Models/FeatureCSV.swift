/// Rows of feature values from CSV bytes, arranged for a model.
///
/// The header names the columns; columns are matched to the model's features
/// by name (extra columns are ignored, a missing feature is an error). An
/// empty field, `nan` or `NaN` is a missing value. Fields are plain numbers:
/// no quoting beyond stripping surrounding double quotes from header names.
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
        var lines = TextLines(bytes)
        guard let header = lines.next() else { throw ParseError(line: 0, message: "the input is empty (expected a header of feature names)") }
        let columns = header.text.split(separator: ",", omittingEmptySubsequences: false).map { Self.unquote($0) }
        var columnOf: [String: Int] = [:]
        for (i, name) in columns.enumerated() {
            guard columnOf[name] == nil else { throw ParseError(line: 1, message: "column '\(name)' appears twice in the header") }
            columnOf[name] = i
        }
        var slot: [Int] = []  // for each model feature, its CSV column
        for name in featureNames {
            guard let c = columnOf[name] else { throw ParseError(line: 1, message: "the header has no column for model feature '\(name)'") }
            slot.append(c)
        }
        var values: [Double] = []
        var rows = 0
        var fields: [Substring] = []
        while let line = lines.next() {
            if line.text.isEmpty { continue }
            fields = line.text.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == columns.count else {
                throw ParseError(line: line.number, message: "has \(fields.count) fields but the header has \(columns.count)")
            }
            for (f, c) in slot.enumerated() {
                let field = fields[c]
                let trimmed = field.drop { $0 == " " }
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

    static func unquote(_ s: Substring) -> String {
        var t = s.drop { $0 == " " }
        while t.last == " " { t = t.dropLast() }
        if t.count >= 2, t.first == "\"", t.last == "\"" { t = t.dropFirst().dropLast() }
        return String(t)
    }
}
