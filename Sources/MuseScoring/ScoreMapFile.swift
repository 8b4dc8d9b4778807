/// The text format of level-2 maps: what `musectl transform fit` writes, what
/// `transform apply` reads, and what a snapshot embeds. Line-oriented, so a
/// bad file is reported by line, and `Double.description` round-trips every
/// knot exactly.
///
///     # comments and blank lines are ignored
///     muse-score-maps 1
///     map
///     predictor fraud-v2        # a name, no spaces
///     tenant *                  # `*`: the predictor's pooled map
///     reference beta 2.0 5.0    # uniform | beta A B | empirical N
///     samples 120000            # optional: the fitting sample's size
///     correction 0.1            # optional: the level-1 odds ratio the scores
///                               # were corrected with before fitting (1.0: none);
///                               # for a blend, one per member: `correction 0.1 1.0`
///     knots 3                   # then exactly that many `score reference` lines
///     0.001 0.0
///     0.2 0.31
///     0.97 1.0
///     end
///     map
///     predictor fraud-v2
///     tenant tiny-co
///     reference beta 2.0 5.0
///     samples 12
///     fallback 12 scores, fewer than the minimum 1000   # uses the pooled map
///     end
///
/// A map's knot scores strictly increase and its reference values never
/// decrease; on a uniform or beta reference they run from exactly 0 to
/// exactly 1. A fallback entry needs its predictor's pooled map in the file.
///
/// `correction` was added after the first files were written, without a
/// version change: a file without it still reads (its level 1 is unknown, so
/// nothing can check it), and `transform fit` always writes it, because a map
/// is only right for scores corrected exactly as its fitting sample was.
/// A blend corrects each member before averaging, so its map records each
/// member's odds ratio, in the predictor's member order (see
/// `Entry.memberCorrections`); a reader older than that form refuses it
/// ("one number") rather than misreading it.
public struct ScoreMapFile: Sendable, Equatable {
    public static let magic = "muse-score-maps"
    public static let version = 1

    public enum Content: Sendable, Equatable {
        case map(QuantileMap)
        /// The tenant uses the predictor's pooled map, for this reason.
        case fallback(reason: String)
    }

    public struct Entry: Sendable, Equatable {
        public var predictor: String
        /// nil for the predictor's pooled map.
        public var tenant: String?
        public var reference: ReferenceDescriptor
        public var sampleCount: Int?
        /// The level-1 correction the fitting sample went through, one odds
        /// ratio for every model of the predictor; nil in a file that does
        /// not record it, or that records `memberCorrections` instead.
        public var correction: PosteriorCorrection?
        /// For a blend: the odds ratio of each member, in the predictor's
        /// member order, that its fitting scores (the blend's posteriors)
        /// went through. nil unless the file records a list (`correction`
        /// is then nil); never empty.
        public var memberCorrections: [PosteriorCorrection]?
        public var content: Content

        public init(predictor: String, tenant: String?, reference: ReferenceDescriptor, sampleCount: Int?,
                    correction: PosteriorCorrection? = nil, memberCorrections: [PosteriorCorrection]? = nil,
                    content: Content) {
            self.predictor = predictor
            self.tenant = tenant
            self.reference = reference
            self.sampleCount = sampleCount
            self.correction = correction
            self.memberCorrections = memberCorrections
            self.content = content
        }

        /// Whether the entry records the level 1 it was fitted after.
        public var recordsCorrection: Bool { correction != nil || memberCorrections != nil }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// A file holding one predictor's fitted maps: the pooled one, then each
    /// tenant's own map or its fallback, all recording `correction`, the
    /// level 1 the fitting scores went through.
    public init(predictor: String, reference: ReferenceDistribution, maps: TenantMaps, correction: PosteriorCorrection? = nil) {
        let ref = reference.descriptor
        var entries = [Entry(predictor: predictor, tenant: nil, reference: ref,
                             sampleCount: maps.pooledSampleCount, correction: correction, content: .map(maps.pooled))]
        for e in maps.entries {
            switch e.origin {
            case .ownSample(let n):
                entries.append(Entry(predictor: predictor, tenant: e.tenant, reference: ref, sampleCount: n,
                                     correction: correction, content: .map(e.map)))
            case .pooled(let why):
                entries.append(Entry(predictor: predictor, tenant: e.tenant, reference: ref, sampleCount: nil,
                                     correction: correction, content: .fallback(reason: why)))
            }
        }
        self.entries = entries
    }

    /// The map to apply for (predictor, tenant): the tenant's own, else the
    /// pooled one (explicit fallback or no entry for the tenant). Lenient:
    /// a misspelt tenant gets the pooled map. Where a person names the
    /// tenant, use `resolve`, which refuses that.
    public func map(predictor: String, tenant: String?) -> QuantileMap? {
        func pooled() -> QuantileMap? {
            for e in entries where e.predictor == predictor && e.tenant == nil {
                if case .map(let m) = e.content { return m }
            }
            return nil
        }
        if let tenant, let own = entries.first(where: { $0.predictor == predictor && $0.tenant == tenant }),
           case .map(let m) = own.content {
            return m
        }
        return pooled()
    }

    public func encoded() -> String {
        var out = "\(Self.magic) \(Self.version)\n"
        for e in entries {
            out += "map\npredictor \(e.predictor)\ntenant \(e.tenant ?? "*")\nreference \(e.reference)\n"
            if let n = e.sampleCount { out += "samples \(n)\n" }
            if let list = e.memberCorrections, !list.isEmpty {
                out += "correction " + list.map { "\($0.oddsRatio)" }.joined(separator: " ") + "\n"
            } else if let c = e.correction {
                out += "correction \(c.oddsRatio)\n"
            }
            switch e.content {
            case .fallback(let why): out += "fallback \(why)\n"
            case .map(let m):
                out += "knots \(m.knotCount)\n"
                for (x, y) in zip(m.scores, m.references) { out += "\(x) \(y)\n" }
            }
            out += "end\n"
        }
        return out
    }
}

/// The reference a map was fitted onto, as a map file names it. (An
/// empirical reference is recorded by its size only; its values are not
/// needed to apply the map.)
public enum ReferenceDescriptor: Sendable, Equatable, CustomStringConvertible {
    case uniform
    case beta(a: Double, b: Double)
    case empirical(count: Int)

    public var description: String {
        switch self {
        case .uniform: return "uniform"
        case .beta(let a, let b): return "beta \(a) \(b)"
        case .empirical(let n): return "empirical \(n)"
        }
    }

    /// Whether reference values lie in [0, 1] and a fitted map spans it exactly.
    var isUnitInterval: Bool {
        if case .empirical = self { return false }
        return true
    }
}

extension ReferenceDistribution {
    public var descriptor: ReferenceDescriptor {
        switch kind {
        case .uniform: return .uniform
        case .beta(let a, let b, _): return .beta(a: a, b: b)
        case .empirical(let v): return .empirical(count: v.count)
        }
    }
}

/// A map file that cannot be read, with where and why.
public struct ScoreMapFileError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let key: String?
    public let message: String

    public var description: String {
        "\(file):\(line): " + (key.map { "'\($0)': " } ?? "") + message
    }
}
