/// Which runs of a tenant's events the shadow predictors score: 1 in `k`
/// per tenant (`shadow_sample`), counted per worker, deterministically (the
/// first run after a generation pick-up, then every k-th). Owned by one
/// worker's scorer: plain counters, no other thread reads them.
final class ShadowSampling: @unchecked Sendable {
    private let every: [UInt32]
    private let counters: UnsafeMutablePointer<UInt32>

    /// `every` by daemon tenant index; tenants past its end are scored every run.
    init(every: [Int]) {
        self.every = every.map { UInt32(clamping: max($0, 1)) }
        counters = .allocate(capacity: max(every.count, 1))
        counters.initialize(repeating: 0, count: max(every.count, 1))
    }

    deinit { counters.deallocate() }

    /// Worker thread only: whether this run of `tenant`'s is shadowed.
    @inline(__always)
    func takes(tenant: Int) -> Bool {
        guard tenant < every.count, every[tenant] > 1 else { return true }
        let n = counters[tenant]
        counters[tenant] = n &+ 1 == every[tenant] ? 0 : n &+ 1
        return n == 0
    }
}
