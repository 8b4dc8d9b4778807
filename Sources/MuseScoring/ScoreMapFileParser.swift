extension ScoreMapFile {
    /// Reads a map file's text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ScoreMapFileError) -> ScoreMapFile {
        var parser = ScoreMapFileParser(file: file, text: text)
        return try parser.parse()
    }
}

/// Splits the text into significant lines (comments and blanks dropped, line
/// numbers kept) and walks them block by block.
struct ScoreMapFileParser {
    let file: String
    var lines: [(number: Int, words: [Substring], text: Substring)] = []
    var next = 0
    var lastLine = 0

    init(file: String, text: String) {
        self.file = file
        // As Characters, "\r\n" is one grapheme, not "\r" then "\n".
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            lastLine = i + 1
            let body = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = body.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if !words.isEmpty { lines.append((i + 1, words, body)) }
        }
    }

    func fail(_ line: Int, _ key: String?, _ message: String) -> ScoreMapFileError {
        ScoreMapFileError(file: file, line: line, key: key, message: message)
    }

    mutating func parse() throws(ScoreMapFileError) -> ScoreMapFile {
        guard let head = lines.first else { throw fail(lastLine, nil, "empty file: expected '\(ScoreMapFile.magic) 1'") }
        guard head.words.count == 2, head.words[0] == ScoreMapFile.magic else {
            throw fail(head.number, nil, "not a score map file: expected '\(ScoreMapFile.magic) \(ScoreMapFile.version)'")
        }
        guard Int(head.words[1]) == ScoreMapFile.version else {
            throw fail(head.number, ScoreMapFile.magic, "unsupported version \(head.words[1]); this build reads version \(ScoreMapFile.version)")
        }
        next = 1
        var entries: [ScoreMapFile.Entry] = []
        var entryLines: [Int] = []
        // Hashed, so a file of many small entries reads in linear time.
        struct Key: Hashable { let predictor: String; let tenant: String? }
        var firstLine: [Key: Int] = [:]
        var pooled: Set<String> = []
        while next < lines.count {
            let start = lines[next]
            guard start.words == ["map"] else {
                throw fail(start.number, String(start.words[0]), "expected 'map' to start a map")
            }
            next += 1
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
        var content: ScoreMapFile.Content?
        var contentKey = ""
        while true {
            guard next < lines.count else { throw fail(lastLine, nil, "the map begun at line \(startLine) has no 'end'") }
            let line = lines[next]
            next += 1
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
                             correction: correction, content: content)
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
                guard correction == nil else { throw fail(line.number, key, "given twice") }
                guard args.count == 1, let r = Double(args.first!) else {
                    throw fail(line.number, key, "expected the level-1 posterior odds ratio, one number (1.0 for none)")
                }
                do { correction = try PosteriorCorrection(oddsRatio: r) } catch { throw fail(line.number, key, error.description) }
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
        // Sized by the lines there are, not by the count the file claims.
        xs.reserveCapacity(min(count, lines.count - next))
        ys.reserveCapacity(min(count, lines.count - next))
        for i in 0..<count {
            guard next < lines.count, lines[next].words.count == 2,
                  let x = Double(lines[next].words[0]), let y = Double(lines[next].words[1]) else {
                let at = next < lines.count ? lines[next].number : lastLine
                throw fail(at, "knots", "knot \(i + 1) of \(count): expected two numbers 'score reference'")
            }
            let at = lines[next].number
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
            next += 1
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
