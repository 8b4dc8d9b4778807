extension ScoreMapFile {
    /// Reads a map file's text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ScoreMapFileError) -> ScoreMapFile {
        var parser = ScoreMapFileParser(file: file, text: text)
        return try parser.parse()
    }
}

/// Reads the text one significant line at a time (comments and blanks
/// skipped, line numbers kept) and walks them block by block. Lines are not
/// split up front: the text may be a snapshot's section, and a list of every
/// line would take dozens of times the text's own size.
struct ScoreMapFileParser {
    typealias Line = (number: Int, words: [Substring], text: Substring)

    let file: String
    private let text: String
    /// Where the next raw line starts, and how many bytes are left from there.
    private var position: String.Index
    private var bytesLeft: Int
    private var atEnd = false
    /// The next significant line, nil at the end of the text.
    private(set) var current: Line?
    /// Raw lines read so far; once `current` is nil, the text's line count.
    private(set) var lastLine = 0

    init(file: String, text: String) {
        self.file = file
        self.text = text
        position = text.startIndex
        bytesLeft = text.utf8.count
        advance()
    }

    /// Moves `current` to the next significant line. A line ends at "\n"; a
    /// "\r" before it is blank space like any other, so "\r\n" files read
    /// the same.
    mutating func advance() {
        current = nil
        while !atEnd {
            let utf8 = text.utf8
            let end = utf8[position...].firstIndex(of: UInt8(ascii: "\n"))
            let raw = text[position..<(end ?? text.endIndex)]
            if let end {
                bytesLeft -= utf8.distance(from: position, to: end) + 1
                position = utf8.index(after: end)
            } else {
                atEnd = true
                bytesLeft = 0
            }
            lastLine += 1
            let body = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = body.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if !words.isEmpty {
                current = (lastLine, words, body)
                return
            }
        }
    }

    /// The current line, and moves on.
    mutating func take() -> Line? {
        defer { advance() }
        return current
    }

    func fail(_ line: Int, _ key: String?, _ message: String) -> ScoreMapFileError {
        ScoreMapFileError(file: file, line: line, key: key, message: message)
    }

    mutating func parse() throws(ScoreMapFileError) -> ScoreMapFile {
        guard let head = take() else { throw fail(lastLine, nil, "empty file: expected '\(ScoreMapFile.magic) 1'") }
        guard head.words.count == 2, head.words[0] == ScoreMapFile.magic else {
            throw fail(head.number, nil, "not a score map file: expected '\(ScoreMapFile.magic) \(ScoreMapFile.version)'")
        }
        guard Int(head.words[1]) == ScoreMapFile.version else {
            throw fail(head.number, ScoreMapFile.magic, "unsupported version \(head.words[1]); this build reads version \(ScoreMapFile.version)")
        }
        var entries: [ScoreMapFile.Entry] = []
        var entryLines: [Int] = []
        // Hashed, so a file of many small entries reads in linear time.
        struct Key: Hashable { let predictor: String; let tenant: String? }
        var firstLine: [Key: Int] = [:]
        var pooled: Set<String> = []
        while let start = take() {
            guard start.words == ["map"] else {
                throw fail(start.number, String(start.words[0]), "expected 'map' to start a map")
            }
            let entry = try parseEntry(startLine: start.number)
            if let first = firstLine.updateValue(start.number, forKey: Key(predictor: entry.predictor, tenant: entry.tenant)) {
                throw fail(start.number, "tenant",
                           "a second map for predictor '\(entry.predictor)', tenant '\(entry.tenant ?? "*")' (first at line \(first))")
            }
            if entry.tenant == nil { pooled.insert(entry.predictor) }
            entries.append(entry)
            entryLines.append(start.number)
        }
        for (e, line) in zip(entries, entryLines) {
            if case .fallback = e.content, !pooled.contains(e.predictor) {
                throw fail(line, "fallback", "tenant '\(e.tenant ?? "*")' falls back to predictor '\(e.predictor)''s pooled map, which the file lacks")
            }
        }
        return ScoreMapFile(entries: entries)
    }

    mutating func parseEntry(startLine: Int) throws(ScoreMapFileError) -> ScoreMapFile.Entry {
        var predictor: String?, tenant: String??, reference: ReferenceDescriptor?, samples: Int?, correction: PosteriorCorrection?
        var memberCorrections: [PosteriorCorrection]?
        var content: ScoreMapFile.Content?
        var contentKey = ""
        while true {
            guard let line = take() else { throw fail(lastLine, nil, "the map begun at line \(startLine) has no 'end'") }
            let key = String(line.words[0])
            let args = line.words.dropFirst()
            func one() throws(ScoreMapFileError) -> String {
                guard args.count == 1 else { throw fail(line.number, key, "expected one name with no spaces") }
                return String(args.first!)
            }
            switch key {
            case "end":
                guard let predictor else { throw fail(line.number, "predictor", "the map begun at line \(startLine) names no predictor") }
                guard let tenant else { throw fail(line.number, "tenant", "the map begun at line \(startLine) names no tenant ('*' for pooled)") }
                guard let reference else { throw fail(line.number, "reference", "the map begun at line \(startLine) names no reference") }
                guard let content else { throw fail(line.number, "knots", "the map begun at line \(startLine) has neither knots nor a fallback") }
                if case .map(let m) = content, reference.isUnitInterval,
                   m.references.first != 0 || m.references.last != 1 || m.references.contains(where: { $0 < 0 || $0 > 1 }) {
                    throw fail(line.number, "knots", "on a \(reference) reference the values must run from exactly 0 to exactly 1, got \(m.references.first!) to \(m.references.last!)")
                }
                if case .fallback = content, tenant == nil {
                    throw fail(line.number, "fallback", "the pooled map ('tenant *') cannot itself fall back")
                }
                return .init(predictor: predictor, tenant: tenant, reference: reference, sampleCount: samples,
                             correction: correction, memberCorrections: memberCorrections, content: content)
            case "predictor":
                guard predictor == nil else { throw fail(line.number, key, "given twice") }
                predictor = try one()
            case "tenant":
                guard tenant == nil else { throw fail(line.number, key, "given twice") }
                let name = try one()
                tenant = .some(name == "*" ? nil : name)
            case "reference":
                guard reference == nil else { throw fail(line.number, key, "given twice") }
                reference = try parseReference(Array(args), line: line.number)
            case "samples":
                guard samples == nil else { throw fail(line.number, key, "given twice") }
                guard args.count == 1, let n = Int(args.first!), n >= 0 else {
                    throw fail(line.number, key, "expected a non-negative integer")
                }
                samples = n
            case "correction":
                guard correction == nil && memberCorrections == nil else { throw fail(line.number, key, "given twice") }
                // One ratio, or a blend's one per member: the line bounds the count.
                var ratios = [PosteriorCorrection]()
                for word in args {
                    guard let r = Double(word) else {
                        throw fail(line.number, key, "expected the level-1 posterior odds ratio, one number (1.0 for none) or one per blend member, got '\(word)'")
                    }
                    do { ratios.append(try PosteriorCorrection(oddsRatio: r)) } catch { throw fail(line.number, key, error.description) }
                }
                guard !ratios.isEmpty else { throw fail(line.number, key, "expected the level-1 posterior odds ratio, one number (1.0 for none)") }
                if ratios.count == 1 { correction = ratios[0] } else { memberCorrections = ratios }
            case "fallback":
                guard content == nil else { throw fail(line.number, key, "the map already has \(contentKey)") }
                let reason = line.text.drop(while: { $0 == " " || $0 == "\t" }).dropFirst(key.count)
                    .drop(while: { $0 == " " || $0 == "\t" })
                content = .fallback(reason: String(reason).trimmingSuffix())
                contentKey = "a fallback"
            case "knots":
                guard content == nil else { throw fail(line.number, key, "the map already has \(contentKey)") }
                guard args.count == 1, let k = Int(args.first!), k >= 2, k <= QuantileMapFitter.maxKnots else {
                    throw fail(line.number, key, "expected a knot count from 2 to \(QuantileMapFitter.maxKnots), got '\(args.joined(separator: " "))'")
                }
                content = .map(try parseKnots(k, keyLine: line.number))
                contentKey = "knots"
            default:
                throw fail(line.number, key, "unknown key; expected predictor, tenant, reference, samples, correction, knots, fallback or end")
            }
        }
    }

    func parseReference(_ args: [Substring], line: Int) throws(ScoreMapFileError) -> ReferenceDescriptor {
        switch args.first {
        case "uniform" where args.count == 1:
            return .uniform
        case "beta" where args.count == 3:
            guard let a = Double(args[1]), let b = Double(args[2]) else {
                throw fail(line, "reference", "beta parameters must be numbers, got '\(args[1])' and '\(args[2])'")
            }
            do { _ = try ReferenceDistribution.beta(a, b) } catch { throw fail(line, "reference", error.description) }
            return .beta(a: a, b: b)
        case "empirical" where args.count == 2:
            guard let n = Int(args[1]), n >= 2 else {
                throw fail(line, "reference", "an empirical reference's size must be an integer of at least 2, got '\(args[1])'")
            }
            return .empirical(count: n)
        default:
            throw fail(line, "reference", "expected 'uniform', 'beta A B' or 'empirical N', got '\(args.joined(separator: " "))'")
        }
    }

    mutating func parseKnots(_ count: Int, keyLine: Int) throws(ScoreMapFileError) -> QuantileMap {
        var xs = [Double](), ys = [Double]()
        // Sized by the lines the text can still hold (a knot line is at
        // least three bytes), not by the count the file claims.
        let room = (current == nil ? 0 : 1) + bytesLeft / 3
        xs.reserveCapacity(min(count, room))
        ys.reserveCapacity(min(count, room))
        for i in 0..<count {
            guard let line = current, line.words.count == 2,
                  let x = Double(line.words[0]), let y = Double(line.words[1]) else {
                throw fail(current?.number ?? lastLine, "knots", "knot \(i + 1) of \(count): expected two numbers 'score reference'")
            }
            let at = line.number
            guard x.isFinite, y.isFinite else { throw fail(at, "knots", "knot \(i + 1) is not finite") }
            if let px = xs.last, let py = ys.last {
                guard x > px else {
                    throw fail(at, "knots", "knot \(i + 1): score \(x) does not exceed the previous knot's \(px); a map must be monotone, its knot scores strictly increasing")
                }
                guard y >= py else {
                    throw fail(at, "knots", "knot \(i + 1): reference value \(y) is below the previous knot's \(py); a map must be monotone")
                }
            }
            xs.append(x)
            ys.append(y)
            advance()
        }
        do { return try QuantileMap(scores: xs, references: ys) } catch { throw fail(keyLine, "knots", error.description) }
    }
}

extension String {
    func trimmingSuffix() -> String {
        var s = Substring(self)
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}
