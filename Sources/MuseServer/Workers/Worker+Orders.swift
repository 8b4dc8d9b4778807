import MuseIPC

/// The daemon's orders to a worker (serve a tenant's channels, retire a
/// tenant), taken between two rounds, never inside one.
extension Worker {
    /// Daemon side: queues `order`; the daemon then publishes, which makes
    /// the worker look at its orders.
    func send(_ order: WorkerOrder) { orders.withLock { $0.append(order) } }

    /// Cold path: applies the daemon's orders.
    func applyOrders() {
        let taken = orders.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
        for order in taken {
            switch order {
            case .serve(let tenant, let segment, let channels):
                for channel in channels {
                    endpoints.append(ChannelEndpoint(segment: segment, channel: channel, tenant: tenant))
                }
                if segment.layout.maxFeatures > scratch.stride {
                    scratch.deallocate()
                    scratch = DrainScratch(events: batchSize, maxFeatures: segment.layout.maxFeatures)
                }
                if !segments.contains(where: { $0 === segment }) {
                    segments.append(segment)
                    replaceDoorbell()
                }
                segment.beat()
            case .retire(let tenant, let ticket):
                var before: UInt64 = 0
                for i in 0..<endpoints.count where endpoints[i].tenant == tenant {
                    endpoints[i].beginDrain()
                    before &+= endpoints[i].head
                }
                retirements.append((tenant, ticket, before))
            }
        }
    }

    /// Gives up the channels of tenants whose retirement is over: everything
    /// submitted before it began is answered, or the deadline passed.
    func finishRetirements(now: UInt64) {
        retirements.removeAll { retirement in
            let done = endpoints.allSatisfy { $0.tenant != retirement.tenant || $0.isDrained }
            guard done || now >= retirement.ticket.deadline else { return false }
            var answered: UInt64 = 0, left: UInt64 = 0
            for i in 0..<endpoints.count where endpoints[i].tenant == retirement.tenant {
                answered &+= endpoints[i].head
                left &+= endpoints[i].undrained
            }
            endpoints.removeAll { $0.tenant == retirement.tenant }
            rebuildScheduler()
            let kept = segments.filter { segment in endpoints.contains { $0.segment === segment } }
            if kept.count != segments.count {
                segments = kept
                replaceDoorbell()
            }
            retirement.ticket.report(answered: answered &- retirement.answeredBefore, left: left)
            return true
        }
    }
}
