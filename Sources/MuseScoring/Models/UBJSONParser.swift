/// A UBJSON syntax error with its byte offset.
public struct UBJSONSyntaxError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let message: String
    public var description: String { "byte \(offset): \(message)" }
}

/// Universal Binary JSON (big-endian, as XGBoost's `save_model("m.ubj")`
/// writes it) read into the same `JSONValue` the JSON parser produces.
///
/// Numbers become text that parses back, as `Float` and as `Double`, to the
/// exact stored value: a float32 (`d`) becomes the shortest text of its
/// widened double, so the importer's `Float(text)` gets the float back and a
/// `Double(text)` gets the float widened, as from XGBoost's JSON. Every count
/// and length is checked against the bytes left before anything is sized by
/// it: the file is untrusted.
public struct UBJSONParser {
    private let bytes: [UInt8]
    private var i = 0
    private var depth = 0
    static let maxDepth = 256

    /// An object's first key starts with a length marker (or an optimized
    /// container header), where JSON has a quote or whitespace.
    public static func looksLikeUBJSON(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "{") else { return false }
        return Array("iUIlL$#".utf8).contains(bytes[1])
    }

    public static func parse(_ bytes: [UInt8]) throws(UBJSONSyntaxError) -> JSONValue {
        var p = UBJSONParser(bytes: bytes)
        let v = try p.value(marker: try p.byte())
        guard p.i == bytes.count else { throw p.fail("unexpected data after the top-level value") }
        return v
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func fail(_ message: String, at offset: Int? = nil) -> UBJSONSyntaxError {
        UBJSONSyntaxError(offset: offset ?? i, message: message)
    }

    private var left: Int { bytes.count - i }

    private mutating func byte() throws(UBJSONSyntaxError) -> UInt8 {
        guard i < bytes.count else { throw fail("the file ends where a marker was expected (truncated?)") }
        defer { i += 1 }
        return bytes[i]
    }

    /// `n` bytes as a big-endian unsigned integer.
    private mutating func bigEndian(_ n: Int) throws(UBJSONSyntaxError) -> UInt64 {
        guard left >= n else { throw fail("the file ends inside a \(n)-byte number (truncated?)") }
        var v: UInt64 = 0
        for _ in 0..<n { v = v << 8 | UInt64(bytes[i]); i += 1 }
        return v
    }

    /// The integer after marker `m`, or nil when `m` is not an integer marker.
    private mutating func integer(_ m: UInt8) throws(UBJSONSyntaxError) -> Int64? {
        switch m {
        case UInt8(ascii: "i"): return Int64(Int8(truncatingIfNeeded: try bigEndian(1)))
        case UInt8(ascii: "U"): return Int64(try bigEndian(1))
        case UInt8(ascii: "I"): return Int64(Int16(truncatingIfNeeded: try bigEndian(2)))
        case UInt8(ascii: "l"): return Int64(Int32(truncatingIfNeeded: try bigEndian(4)))
        case UInt8(ascii: "L"): return Int64(bitPattern: try bigEndian(8))
        default: return nil
        }
    }

    /// A length or count: an integer marker and value, not negative, and at
    /// most what the bytes left after it can hold at `per` bytes an item.
    private mutating func length(_ what: String, per: Int = 1) throws(UBJSONSyntaxError) -> Int {
        let at = i
        let m = try byte()
        guard let n = try integer(m) else { throw fail("expected an integer marker for the \(what), found \(Self.show(m))", at: at) }
        guard n >= 0 else { throw fail("negative \(what) \(n)", at: at) }
        guard n <= Int64(left / per) else {
            throw fail("\(what) \(n) needs more than the \(left) bytes left in the file (truncated or damaged?)", at: at)
        }
        return Int(n)
    }

    private static func show(_ m: UInt8) -> String {
        (0x21...0x7E).contains(m) ? "'\(Character(Unicode.Scalar(m)))'" : "byte 0x\(String(m, radix: 16, uppercase: true))"
    }

    private mutating func text(_ what: String) throws(UBJSONSyntaxError) -> String {
        let n = try length("\(what) length")
        defer { i += n }
        return String(decoding: bytes[i..<(i + n)], as: UTF8.self)
    }

    private mutating func value(marker m: UInt8) throws(UBJSONSyntaxError) -> JSONValue {
        if let n = try integer(m) { return .number(String(n)) }
        switch m {
        case UInt8(ascii: "d"):
            let f = Float(bitPattern: UInt32(try bigEndian(4)))
            return .number(Self.numberText(Double(f)))
        case UInt8(ascii: "D"):
            return .number(Self.numberText(Double(bitPattern: try bigEndian(8))))
        case UInt8(ascii: "S"): return .string(try text("string"))
        case UInt8(ascii: "H"): return .number(try text("high-precision number"))
        case UInt8(ascii: "C"): return .string(String(Character(Unicode.Scalar(UInt8(try bigEndian(1))))))
        case UInt8(ascii: "T"): return .bool(true)
        case UInt8(ascii: "F"): return .bool(false)
        case UInt8(ascii: "Z"): return .null
        case UInt8(ascii: "["): return try container(object: false)
        case UInt8(ascii: "{"): return try container(object: true)
        default: throw fail("unknown or misplaced marker \(Self.show(m))", at: i - 1)
        }
    }

    /// Shortest text that reads back as `v`; non-finite values in the
    /// spelling `Float(_:)`/`Double(_:)` accept.
    static func numberText(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        return v.description
    }

    /// The bytes a value of type marker `m` takes after its marker, when fixed.
    private static func fixedSize(_ m: UInt8) -> Int? {
        switch m {
        case UInt8(ascii: "i"), UInt8(ascii: "U"), UInt8(ascii: "C"): return 1
        case UInt8(ascii: "I"): return 2
        case UInt8(ascii: "l"), UInt8(ascii: "d"): return 4
        case UInt8(ascii: "L"), UInt8(ascii: "D"): return 8
        case UInt8(ascii: "T"), UInt8(ascii: "F"), UInt8(ascii: "Z"): return 0
        default: return nil
        }
    }

    private mutating func container(object: Bool) throws(UBJSONSyntaxError) -> JSONValue {
        depth += 1
        guard depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        defer { depth -= 1 }
        var type: UInt8?
        var count: Int?
        if i < bytes.count, bytes[i] == UInt8(ascii: "$") {
            i += 1
            let t = try byte()
            guard t != UInt8(ascii: "N"), t != UInt8(ascii: "$"), t != UInt8(ascii: "#"),
                  t != UInt8(ascii: "]"), t != UInt8(ascii: "}") else { throw fail("invalid container type \(Self.show(t))", at: i - 1) }
            type = t
            guard i < bytes.count, bytes[i] == UInt8(ascii: "#") else { throw fail("a typed container ('$') must give its count ('#')") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "#") {
            i += 1
            // Every element takes at least one byte (a key length, a marker or
            // its payload), except typed true/false/null, which take none:
            // those are bounded by the bytes left all the same.
            let per = object ? 2 : type.flatMap(Self.fixedSize).map { max($0, 1) } ?? 1
            count = try length("count", per: per)
        }
        var items: [JSONValue] = []
        var members: [String: JSONValue] = [:]
        if let count, !object { items.reserveCapacity(count) }
        var k = 0
        while true {
            if let count {
                if k == count { break }
            } else {
                guard i < bytes.count else { throw fail("the file ends inside \(object ? "an object" : "an array") (truncated?)") }
                if bytes[i] == UInt8(ascii: object ? "}" : "]") { i += 1; break }
                if bytes[i] == UInt8(ascii: "N") { i += 1; continue }
            }
            var key = ""
            if object { key = try text("key") }
            let marker: UInt8
            if let type { marker = type } else { marker = try byte() }
            let v = try value(marker: marker)
            if object { members[key] = v } else { items.append(v) }
            k += 1
        }
        return object ? .object(members) : .array(items)
    }
}
