import MuseScoring

/// Seeded mutations of a byte string, the kind that break parsers: bit
/// flips, byte insertions and deletions, truncation, splicing with another
/// input, and "interesting" numbers (-1, 0, 2^31, 2^63 − 1, 1e308, NaN,
/// huge counts) written over the numbers already in the file, where a count
/// or an index is most likely to be.
struct FuzzMutator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// Values that sit on a boundary of some integer or float type, or that a
    /// count or index should never be.
    static let interesting: [String] = [
        "-1", "0", "1", "2", "-2", "255", "256", "65535", "65536",
        "2147483647", "2147483648", "-2147483648", "4294967295", "4294967296",
        "1048575", "1048576", "1048577", "16777215", "16777216",
        "9223372036854775807", "-9223372036854775808", "9223372036854775806", "18446744073709551615",
        "18446744073709551616", "99999999999999999999999",
        "1e308", "-1e308", "1e309", "4.9e-324", "1e-320", "0.0", "-0.0", "1.7976931348623157e308",
        "nan", "NaN", "inf", "-inf", "Infinity", "0x10", "1e", "-", ".", "1.5", "3e9",
    ]
    /// Fragments that change structure rather than a value.
    static let tokens: [String] = [
        "\n", "\r\n", " ", "=", ",", "\"", "[", "]", "{", "}", ":", "#", "\t", "\0",
        "null", "true", "[]", "{}", "\"\"", "\\u0000", "\\ud800", "Tree=0", "end of trees", "end", "map", "knots 2",
        "tenant *", "\u{FFFD}", "\u{00E9}",
    ]

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    /// One to four mutations of `input`; `other` is a second corpus input for splicing.
    mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
        var b = input
        for _ in 0...below(4) { mutateOnce(&b, other: other) }
        return b
    }

    mutating func mutateOnce(_ b: inout [UInt8], other: [UInt8]) {
        switch below(14) {
        case 0 where !b.isEmpty:  // flip one bit
            let i = below(b.count)
            b[i] ^= 1 << UInt8(below(8))
        case 1 where !b.isEmpty:  // set a byte to anything
            b[below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 2:  // insert random bytes
            let n = 1 + below(8)
            b.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: below(b.count + 1))
        case 3 where !b.isEmpty:  // delete a run
            let i = below(b.count)
            b.removeSubrange(i..<min(b.count, i + 1 + below(16)))
        case 4:  // truncate
            b = Array(b.prefix(below(b.count + 1)))
        case 5:  // splice: a prefix of this, a suffix of the other
            let cut = below(b.count + 1), from = below(other.count + 1)
            b = Array(b.prefix(cut)) + Array(other[from...])
        case 6 where !b.isEmpty:  // duplicate a run
            let i = below(b.count)
            let run = Array(b[i..<min(b.count, i + 1 + below(64))])
            b.insert(contentsOf: run, at: below(b.count + 1))
        case 7:  // insert a structural token
            b.insert(contentsOf: Array(Self.tokens[below(Self.tokens.count)].utf8), at: below(b.count + 1))
        case 8:  // empty a JSON array or object: a list whose count another field states
            emptyBrackets(&b)
        case 9:  // delete or duplicate a line: a header key, a tree's field, a knot
            editLine(&b)
        default:  // 10...13: an interesting value over an existing number
            replaceNumber(&b)
        }
    }

    /// Removes what lies between a random `[` or `{` and its match.
    mutating func emptyBrackets(_ b: inout [UInt8]) {
        let opens = b.indices.filter { b[$0] == UInt8(ascii: "[") || b[$0] == UInt8(ascii: "{") }
        guard !opens.isEmpty else { return }
        let open = opens[below(opens.count)]
        var depth = 0
        for i in open..<b.count {
            if b[i] == UInt8(ascii: "[") || b[i] == UInt8(ascii: "{") { depth += 1 }
            if b[i] == UInt8(ascii: "]") || b[i] == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { b.removeSubrange((open + 1)..<i); return }
            }
        }
    }

    mutating func editLine(_ b: inout [UInt8]) {
        let starts = [0] + b.indices.filter { b[$0] == 10 }.map { $0 + 1 }
        let i = below(starts.count)
        let lo = starts[i], hi = i + 1 < starts.count ? starts[i + 1] : b.count
        guard lo <= hi else { return }
        if below(2) == 0 {
            b.removeSubrange(lo..<hi)
        } else {
            b.insert(contentsOf: Array(b[lo..<hi]), at: hi)
        }
    }

    /// Writes an interesting value over a number of the input (a run of
    /// digits with its sign, point and exponent), or inserts one if none.
    mutating func replaceNumber(_ b: inout [UInt8]) {
        let value = Array(Self.interesting[below(Self.interesting.count)].utf8)
        func isNumberByte(_ c: UInt8) -> Bool {
            (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
                || c == UInt8(ascii: "E") || c == UInt8(ascii: "+")
        }
        // Start at a random place and look forward for a digit.
        let start = below(b.count + 1)
        guard let digit = b[start...].firstIndex(where: { $0 >= 48 && $0 <= 57 })
                ?? b[..<start].firstIndex(where: { $0 >= 48 && $0 <= 57 }) else {
            b.insert(contentsOf: value, at: below(b.count + 1))
            return
        }
        var lo = digit, hi = digit
        while lo > 0, isNumberByte(b[lo - 1]) { lo -= 1 }
        while hi < b.count, isNumberByte(b[hi]) { hi += 1 }
        b.replaceSubrange(lo..<hi, with: value)
    }
}
