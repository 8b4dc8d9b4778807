import MuseIPC

/// How one worker shares its time among the tenants whose channels it holds:
/// deficit round robin (Shreedhar & Varghese), with the tenant as the flow
/// and the event as the unit of work.
///
/// Why per tenant and not per channel: a worker draining every channel in
/// turn, `batchSize` events each, would give a tenant a share that grows with
/// the number of channels it keeps full: a tenant flooding 256 channels would
/// make a one-channel tenant wait for 256 batches between two of its own. Here a
/// tenant's turn is bounded whatever its channel count, and its channels are
/// served round-robin inside its turns (a cursor carries over), so none of a
/// tenant's own threads starves another either.
///
/// Credits: a turn adds `weight * batchSize` credits; an event costs
/// `maxWeight` credits, the largest weight on this worker. So the heaviest
/// tenant answers `batchSize` events per turn, a lighter one proportionally
/// fewer, fractions carried in the deficit. Shares are exactly proportional
/// to weight among tenants with work, and no turn is longer than about one
/// batch: a tenant with work waits at most one batch per other tenant on the
/// worker, which is what bounds the modest tenant's latency in the fairness
/// test. (The plain textbook choice, quantum = weight * batch, would let a
/// weight-1000 tenant answer 64,000 events before anyone else.)
///
/// A deficit is carried only while the tenant has work: a turn that runs out
/// of events (a lap of its channels gave less than its budget) resets it, so
/// an idle tenant cannot save up credit and burst past the others later.
///
/// Why events and not measured time as the unit: costs per event vary by
/// model, but measuring them would put a clock read on every batch of every
/// tenant; counted events keep the loop free of system calls and are what
/// rate limits and the client see. A tenant over its rate limit is answered
/// `.overloaded` for the rest of its batch (see `ChannelEndpoint.drain(...,
/// admit:)`); those answers count against its turn like any other, so its
/// refusals are prompt, in order, and cost its own share only.
///
/// Owned by one worker, not shared: no field here is touched by another thread.
struct FairScheduler {
    private struct Flow {
        let tenant: TenantIndex
        /// The tenant's channels: `channelOrder[first ..< first + count]`,
        /// indices into the worker's `EndpointSet`.
        let first: Int
        let count: Int
        /// Where the next turn starts among them (0 ..< count).
        var cursor = 0
        let quantum: Int
        var deficit = 0
        let limiter: TenantRateLimiter?
    }

    private var flows: [Flow]
    /// Every flow's channels, flow after flow (one array, so a turn takes
    /// no reference count).
    private let channelOrder: [Int]
    /// Per endpoint (by its index in the worker's `EndpointSet`): the flow
    /// holding it.
    let flowOfEndpoint: [Int]
    /// Credits one event costs: the largest weight among this worker's tenants.
    private let cost: Int
    private let batchSize: Int

    /// `tenants[i]` is the tenant of endpoint `i`; `policies` is indexed by
    /// tenant (a tenant beyond it gets weight 1, no limit).
    init(tenants: [TenantIndex], policies: [TenantPolicy], batchSize: Int) {
        let batch = max(1, batchSize)
        self.batchSize = batch
        func policy(_ tenant: TenantIndex) -> TenantPolicy {
            policies.indices.contains(tenant.rawValue) ? policies[tenant.rawValue] : TenantPolicy()
        }
        var order: [TenantIndex] = []
        var channels: [TenantIndex: [Int]] = [:]
        for (i, tenant) in tenants.enumerated() {
            if channels[tenant] == nil { order.append(tenant) }
            channels[tenant, default: []].append(i)
        }
        cost = order.map { policy($0).weight }.max() ?? 1
        var flat: [Int] = []
        var flows: [Flow] = []
        var flowOf = Array(repeating: 0, count: tenants.count)
        for tenant in order {
            let mine = channels[tenant]!
            for i in mine { flowOf[i] = flows.count }
            flows.append(Flow(tenant: tenant, first: flat.count, count: mine.count,
                              quantum: policy(tenant).weight * batch, limiter: policy(tenant).limiter))
            flat += mine
        }
        self.flows = flows
        channelOrder = flat
        flowOfEndpoint = flowOf
    }

    /// Gives every tenant one turn and returns how many events were answered.
    /// The clock is read at most once per round, and only if a rate-limited
    /// tenant had events to admit.
    @inline(__always)
    mutating func round<Scorer: EventScorer>(
        _ endpoints: inout EndpointSet, scorer: borrowing Scorer, scratch: DrainScratch
    ) -> Int {
        var total = 0
        var now: UInt64 = 0
        for f in flows.indices {
            total += turn(f, &endpoints, scorer: scorer, scratch: scratch, now: &now)
        }
        return total
    }

    /// Gives a turn to the flows `only` (indices from `flowOfEndpoint`), each
    /// once, and returns how many events were answered.
    ///
    /// Why: a worker woken by a doorbell serves the tenants that rang before
    /// it sweeps every other tenant's channels (a full round over a thousand
    /// tenants costs tens of microseconds, on the woken event's latency).
    /// The extra turn is ordinary credit: a flow that runs out of events
    /// carries nothing, and one with more than a batch waits its next turn
    /// in the full round like everyone else.
    mutating func round<Scorer: EventScorer>(
        only: [Int], _ endpoints: inout EndpointSet, scorer: borrowing Scorer, scratch: DrainScratch
    ) -> Int {
        var total = 0
        var now: UInt64 = 0
        for f in only where flows.indices.contains(f) {
            total += turn(f, &endpoints, scorer: scorer, scratch: scratch, now: &now)
        }
        return total
    }

    /// One turn of flow `f`; `now` is read once per round, when first needed.
    @inline(__always)
    private mutating func turn<Scorer: EventScorer>(
        _ f: Int, _ endpoints: inout EndpointSet, scorer: borrowing Scorer, scratch: DrainScratch, now: inout UInt64
    ) -> Int {
        flows[f].deficit += flows[f].quantum
        let budget = flows[f].deficit / cost
        if budget == 0 { return 0 }
        let first = flows[f].first, count = flows[f].count
        var cursor = flows[f].cursor
        var served = 0
        var visits = 0
        // At most one lap of the tenant's channels per turn: a budget is
        // at most one batch, which one channel can fill, so a lap that
        // falls short means the tenant ran out of events; and a turn's
        // cost stays bounded however a client trickles events in.
        while served < budget && visits < count {
            let want = min(batchSize, budget - served)
            let n: Int
            if let limiter = flows[f].limiter {
                var at = now
                n = endpoints[channelOrder[first + cursor]].drain(limit: want, scorer: scorer, scratch: scratch) { wanted in
                    if at == 0 { at = ThreadSupport.monotonicNanoseconds() }
                    return limiter.admit(wanted, now: at)
                }
                now = at
            } else {
                n = endpoints[channelOrder[first + cursor]].drain(limit: want, scorer: scorer, scratch: scratch)
            }
            served += n
            visits += 1
            cursor = cursor + 1 == count ? 0 : cursor + 1
        }
        flows[f].cursor = cursor
        // Out of work before out of credit: nothing is carried.
        flows[f].deficit = served < budget ? 0 : flows[f].deficit - served * cost
        return served
    }

    /// The rate limiters of this worker's tenants (housekeeping reports their refusals).
    var limiters: [(tenant: TenantIndex, limiter: TenantRateLimiter)] {
        flows.compactMap { flow in flow.limiter.map { (flow.tenant, $0) } }
    }

    /// For tests: each tenant's carried deficit, in events.
    func carried(_ tenant: TenantIndex) -> Double? {
        flows.first { $0.tenant == tenant }.map { Double($0.deficit) / Double(cost) }
    }
}
