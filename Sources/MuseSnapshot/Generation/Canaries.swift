import MuseScoring

/// Canary events: scored when a snapshot is built, scored again on every
/// load, and compared bit for bit. A difference means the bytes serve
/// something other than what was built: a flat array written or read
/// wrongly, a different level-1 factor, a map off by a knot, or a Muse whose
/// arithmetic changed.
public enum Canaries {
    /// Scores `events` through `table` and records, for each, the primary
    /// predictor's and each shadow's raw and transformed scores.
    public static func record(_ events: [CanaryEvent], table: RoutingTable) throws(SnapshotError) -> [CanaryEvent] {
        let ids = IDs(table)
        var out = [CanaryEvent]()
        for (n, e) in events.enumerated() {
            var scored = e
            scored.expected = try score(e, table: table, ids: ids, index: n)
            out.append(scored)
        }
        return out
    }

    /// Scores every canary again and throws at the first that differs.
    public static func verify(_ events: [CanaryEvent], table: RoutingTable) throws(SnapshotError) {
        let ids = IDs(table)
        for (n, e) in events.enumerated() {
            let now = try score(e, table: table, ids: ids, index: n)
            guard now.count == e.expected.count else {
                throw .canaryMismatch("canary \(n) (\(e.tenant)/\(e.intent)) recorded \(e.expected.count) scores but its route now gives \(now.count)")
            }
            for (got, want) in zip(now, e.expected) where !got.sameBits(want) {
                throw .canaryMismatch(
                    "canary \(n) (\(e.tenant)/\(e.intent)), predictor '\(want.predictor)': recorded raw \(want.raw) score \(want.score) "
                    + "(bits \(hex(want.raw.bitPattern)) \(hex(want.score.bitPattern))), now predictor '\(got.predictor)' raw \(got.raw) score \(got.score) "
                    + "(bits \(hex(got.raw.bitPattern)) \(hex(got.score.bitPattern)))")
            }
        }
    }

    /// The table's tenant and intent ids by name: `RoutingTable.tenantID`
    /// searches the list, once per canary would be quadratic.
    struct IDs {
        let tenants: [String: RoutedTenant]
        let intents: [String: RoutedIntent]
        init(_ table: RoutingTable) {
            tenants = Dictionary(zip(table.tenants, table.tenantIDs), uniquingKeysWith: { a, _ in a })
            intents = Dictionary(zip(table.intents, table.intentIDs), uniquingKeysWith: { a, _ in a })
        }
    }

    static func score(_ e: CanaryEvent, table: RoutingTable, ids: IDs, index n: Int) throws(SnapshotError) -> [CanaryScore] {
        guard let t = ids.tenants[e.tenant], let i = ids.intents[e.intent] else {
            throw .canaryMismatch("canary \(n): no route for \(e.tenant)/\(e.intent)")
        }
        let scores = e.features.withUnsafeBufferPointer { x -> [CanaryScore]? in
            guard case .scored(let s) = table.score(tenant: t, intent: i, features: x) else { return nil }
            var scores = [CanaryScore(predictor: table.predictor(s.predictor).name, raw: s.raw, score: s.score)]
            table.scoreShadows(tenant: t, intent: i, features: x) { s in
                scores.append(CanaryScore(predictor: table.predictor(s.predictor).name, raw: s.raw, score: s.score))
            }
            return scores
        }
        guard let scores else {
            throw .canaryMismatch("canary \(n) (\(e.tenant)/\(e.intent)): \(e.features.count) features do not fit the route's predictor")
        }
        return scores
    }

    /// Deterministic feature vectors for an intent when no rows are given:
    /// a SplitMix64 stream seeded from the intent's schema hash and `seed`,
    /// mixing ordinary values, zeros, large magnitudes and missing values
    /// (NaN), so both sides of missing-value and zero-band splits get used.
    public static func generatedFeatures(for intent: IntentSchema, count: Int, seed: UInt64 = 0) -> [[Double]] {
        var random = SplitMix64(seed: intent.schemaHash ^ seed)
        return (0..<count).map { _ in
            intent.featureNames.map { _ in
                let u = random.uniform()
                switch random.next() % 16 {
                case 0: return .nan
                case 1: return 0
                case 2: return (u - 0.5) * 2e6
                case 3: return Double(random.next() % 8)  // small integers: categories
                default: return (u - 0.5) * 20
                }
            }
        }
    }
}
