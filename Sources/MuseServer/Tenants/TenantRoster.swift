import MuseControl
import MuseIPC

/// The tenants as the control plane and the metrics endpoint see them: a
/// copy taken under the administration lock whenever tenants change, read
/// without it. `status`, `tenants` and a scrape then never wait for a swap,
/// a reload or a retirement in progress; what they show is the state as of the
/// last change that finished.
struct TenantRoster: Sendable {
    struct Entry: Sendable {
        let index: Int
        let configuration: TenantConfiguration
        let segment: Segment
        let state: TenantState
    }

    /// The configuration as last applied.
    var configuration: DaemonConfiguration
    var entries: [Entry] = []
    /// Tenant names by `TenantIndex` ("" for a removed tenant).
    var names: [String] = []
    /// Tenants configured but without a segment, with the reason.
    var refused: [String: String] = [:]

    /// Every held tenant's segment, retired ones included.
    var segments: [Segment] { entries.map(\.segment) }
}

extension TenantManager {
    /// Copies the slots into the roster. Call under the administration lock
    /// (or before other threads run) after the slots change.
    func refreshRoster() {
        let entries = slots.enumerated().compactMap { index, slot in
            slot.map { TenantRoster.Entry(index: index, configuration: $0.configuration, segment: $0.segment, state: $0.state) }
        }
        let names = self.names
        let configuration = self.configuration
        let refused = refusedTenants
        roster.withLock { $0 = TenantRoster(configuration: configuration, entries: entries, names: names, refused: refused) }
    }

    /// The roster as of the last change.
    var currentRoster: TenantRoster { roster.withLock { $0 } }

    /// Every tenant mused holds, as `musectl tenants` shows them (from the
    /// roster: never waits for a reload or retirement in progress).
    public func tenantInfo() -> [TenantInfo] {
        currentRoster.entries.map { slot in
                let segment = slot.segment, tenant = slot.configuration
                var claimed = 0, inFlight: UInt64 = 0
                for channel in 0..<segment.layout.channelCount {
                    let observed = segment.observe(channel: channel)
                    if observed.isClaimed { claimed += 1 }
                    inFlight += observed.inFlight
                }
                return TenantInfo(name: tenant.name, state: slot.state, path: segment.path, group: tenant.group,
                                  channels: segment.layout.channelCount, claimedChannels: claimed,
                                  ringDepth: segment.layout.ringDepth, maxFeatures: segment.layout.maxFeatures,
                                  inFlight: inFlight, weight: tenant.weight,
                                  rateLimit: tenant.rateLimit?.eventsPerSecond, burst: tenant.rateLimit?.burst)
        }
    }
}
