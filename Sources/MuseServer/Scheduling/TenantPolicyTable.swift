import MuseIPC

/// What the scheduler knows of a tenant: its weight and, if it has one, its
/// rate limiter. One array for the daemon, indexed by `TenantIndex`, shared by
/// every worker (the limiter is the only mutable part, and it is atomic).
struct TenantPolicy: Sendable {
    var weight: Int
    var rateLimit: RateLimit?
    var limiter: TenantRateLimiter?
    /// The tenant's alert thresholds (not scheduling, but carried to the
    /// workers the same way: with the publication after a reload).
    var alertThresholds: [Double] = []
    /// The tenant's shadow sampling, 1 in this many runs (carried likewise).
    var shadowSample = 1

    init(weight: Int = 1, rateLimit: RateLimit? = nil) {
        self.weight = max(1, weight)
        self.rateLimit = rateLimit
        limiter = rateLimit.map(TenantRateLimiter.init)
    }

    init(_ tenant: TenantConfiguration) {
        self.init(weight: tenant.weight, rateLimit: tenant.rateLimit)
        alertThresholds = tenant.alertThresholds
        shadowSample = tenant.shadowSample
    }
}

/// The tenants' policies by `TenantIndex`, as the daemon last configured
/// them (start, reload). Written by the daemon under its administration,
/// before it publishes; read by each worker when it picks a publication up
/// (cold path), under the lock; the hot path uses the worker's own copy.
final class TenantPolicyTable: Sendable {
    private let policies = Locked<[TenantPolicy]>([])

    var current: [TenantPolicy] { policies.withLock { $0 } }

    /// One policy per slot (nil: no tenant there). A tenant whose rate limit
    /// is unchanged keeps its limiter, and so what it has spent.
    func update(_ tenants: [TenantConfiguration?]) {
        policies.withLock { old in
            old = tenants.enumerated().map { index, tenant in
                guard let tenant else { return TenantPolicy() }
                var policy = TenantPolicy(weight: tenant.weight)
                policy.rateLimit = tenant.rateLimit
                policy.alertThresholds = tenant.alertThresholds
                policy.shadowSample = tenant.shadowSample
                if let limit = tenant.rateLimit {
                    policy.limiter = old.indices.contains(index) && old[index].rateLimit == limit
                        ? old[index].limiter : TenantRateLimiter(limit)
                }
                return policy
            }
        }
    }
}
