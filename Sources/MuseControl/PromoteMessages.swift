/// `musectl promote NAME`: the shadow predictor to make the answering one
/// on every route it shadows, with level-2 maps fitted from sketches.
public struct PromoteSpec: Codable, Sendable, Equatable {
    public var name: String
    /// Sketch files (absolute paths, read by mused, as a swap reads its
    /// snapshot) to fit from instead of this host's live sketches; merged,
    /// and this host's live sketches are not added (an export of this host
    /// may be among them: adding both would count its events twice).
    public var sketchFiles: [String]?
    /// Tenants the gate lets through with fewer events than their
    /// thresholds need.
    public var allowThin: [String]?
    /// Fewest events a tenant's sketch needs for a map of its own; below,
    /// the tenant gets the pooled map (as `transform fit --min-samples`).
    public var minimumSamples: Int?
    /// Knots per fitted map (as `transform fit --knots`).
    public var knots: Int?
    /// Return the published snapshot's bytes (`musectl promote -o FILE`),
    /// so the operator writes the file with their own permissions: mused
    /// writes nowhere but its state directory.
    public var returnSnapshot: Bool?

    /// The largest snapshot `returnSnapshot` carries back (its base64 must
    /// fit one answer line): a larger one is refused before it is published.
    public static let maximumReturnedSnapshot = 1 << 30

    public init(name: String, sketchFiles: [String]? = nil, allowThin: [String]? = nil, minimumSamples: Int? = nil,
                knots: Int? = nil, returnSnapshot: Bool? = nil) {
        self.name = name
        self.sketchFiles = sketchFiles
        self.allowThin = allowThin
        self.minimumSamples = minimumSamples
        self.knots = knots
        self.returnSnapshot = returnSnapshot
    }
}

/// What `promote` fitted and judged per tenant, and what it published.
public struct PromoteReport: Codable, Sendable, Equatable {
    /// One alert threshold of a tenant as the gate judged it.
    public struct Threshold: Codable, Sendable, Equatable {
        /// On the reference scale.
        public var threshold: Double
        /// The alert rate the map aims at: 1 − F_ref(threshold).
        public var expectedRate: Double
        /// sqrt(p(1 − p)/n) / p for the tenant's n sketched events (nil:
        /// infinite, no events; JSON has no infinity).
        public var relativeError: Double?
        /// "pass", "allowed thin", or why the gate refuses.
        public var verdict: String
        public init(threshold: Double, expectedRate: Double, relativeError: Double?, verdict: String) {
            self.threshold = threshold
            self.expectedRate = expectedRate
            self.relativeError = relativeError
            self.verdict = verdict
        }
    }
    public struct Tenant: Codable, Sendable, Equatable {
        public var tenant: String
        /// Events in the tenant's sketch of the promoted predictor.
        public var events: UInt64
        /// "own map" or "pooled map: WHY".
        public var map: String
        public var thresholds: [Threshold]
        public init(tenant: String, events: UInt64, map: String, thresholds: [Threshold]) {
            self.tenant = tenant
            self.events = events
            self.map = map
            self.thresholds = thresholds
        }
    }
    /// The new generation's id (nil: refused).
    public var generation: UInt64?
    public var name: String
    /// Where the sketches came from: "live" or the files, comma-separated.
    public var sketches: String
    /// The routes NAME now answers, as "tenant/intent", and the predictor
    /// each demoted to a shadow.
    public var routes: [String]
    public var tenants: [Tenant]
    /// The largest relative error the gate allows.
    public var maximumRelativeError: Double
    /// The snapshot file mused keeps of the new generation (nil: no state directory).
    public var snapshot: String?
    /// The published snapshot's bytes, base64, when asked (`returnSnapshot`).
    public var snapshotBytes: String?

    public init(generation: UInt64?, name: String, sketches: String, routes: [String], tenants: [Tenant],
                maximumRelativeError: Double, snapshot: String? = nil, snapshotBytes: String? = nil) {
        self.generation = generation
        self.name = name
        self.sketches = sketches
        self.routes = routes
        self.tenants = tenants
        self.maximumRelativeError = maximumRelativeError
        self.snapshot = snapshot
        self.snapshotBytes = snapshotBytes
    }
}
