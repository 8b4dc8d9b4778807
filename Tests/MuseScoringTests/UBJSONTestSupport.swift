@testable import MuseScoring

/// Writes a JSON document as UBJSON the way XGBoost does: integer arrays as
/// typed int32 containers, float arrays whose values are float32 (their text
/// is a float32's shortest decimal) as typed `d` containers, other numbers
/// as `D` float64, objects with length-prefixed keys.
enum UBJSONEncoder {
    static func encode(_ v: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        write(v, into: &out)
        return out
    }

    static func write(_ v: JSONValue, into out: inout [UInt8]) {
        switch v {
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for key in o.keys.sorted() {
                length(key.utf8.count, into: &out)
                out += Array(key.utf8)
                write(o[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            let texts = items.compactMap { if case .number(let s) = $0 { s } else { nil } }
            if !items.isEmpty, texts.count == items.count {
                let ints = texts.compactMap { Int32($0) }
                if ints.count == texts.count {
                    out += Array("[$l#".utf8)
                    length(ints.count, into: &out)
                    for n in ints { bigEndian(UInt64(UInt32(bitPattern: n)), bytes: 4, into: &out) }
                    return
                }
                if texts.allSatisfy(isFloat32) {
                    out += Array("[$d#".utf8)
                    length(texts.count, into: &out)
                    for s in texts { bigEndian(UInt64(Float(s)!.bitPattern), bytes: 4, into: &out) }
                    return
                }
            }
            out.append(UInt8(ascii: "["))
            for item in items { write(item, into: &out) }
            out.append(UInt8(ascii: "]"))
        case .string(let s):
            out.append(UInt8(ascii: "S"))
            length(s.utf8.count, into: &out)
            out += Array(s.utf8)
        case .number(let s):
            if let n = Int64(s) {
                out.append(UInt8(ascii: "L"))
                bigEndian(UInt64(bitPattern: n), bytes: 8, into: &out)
            } else {
                out.append(UInt8(ascii: "D"))
                bigEndian(Double(s)!.bitPattern, bytes: 8, into: &out)
            }
        case .bool(let b): out.append(UInt8(ascii: b ? "T" : "F"))
        case .null: out.append(UInt8(ascii: "Z"))
        }
    }

    /// Whether `s` is the decimal of a float32, as XGBoost writes one.
    static func isFloat32(_ s: String) -> Bool {
        guard let f = Float(s), f.isFinite, let d = Double(s) else { return false }
        return Double(f.description) == d || Double(f) == d
    }

    static func length(_ n: Int, into out: inout [UInt8]) {
        if n < 256 {
            out.append(UInt8(ascii: "U")); out.append(UInt8(n))
        } else {
            out.append(UInt8(ascii: "l")); bigEndian(UInt64(n), bytes: 4, into: &out)
        }
    }

    static func bigEndian(_ v: UInt64, bytes n: Int, into out: inout [UInt8]) {
        for k in (0..<n).reversed() { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }
}
