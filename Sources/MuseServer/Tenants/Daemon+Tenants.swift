#if canImport(Glibc)
import Glibc
#endif
import MuseControl
import MuseIPC

/// Why a reload or a drain was refused.
public enum TenantChangeError: Error, CustomStringConvertible {
    case noConfigurationFile
    case refused([String])
    case unknownTenant(String)
    case lastTenant(String)

    public var description: String {
        switch self {
        case .noConfigurationFile:
            "mused was started without --config: there is no file to reload"
        case .refused(let reasons):
            "reload refused, nothing was applied: " + reasons.joined(separator: "; ")
        case .unknownTenant(let name):
            "mused serves no tenant '\(name)'"
        case .lastTenant(let name):
            "'\(name)' is the last tenant served; stop mused instead"
        }
    }
}

extension Daemon {
    /// How long a drain waits for a tenant's clients to read their answers.
    static var drainNanoseconds: UInt64 { 5_000_000_000 }

    /// Reads the configuration file again and applies it without a restart:
    /// adds tenants, removes tenants (draining their in-flight events first),
    /// serves drained tenants again, and takes new weights and rate limits.
    /// What cannot change live (a segment's layout or group, workers,
    /// directories, addresses) refuses the whole reload with the reasons, and
    /// nothing is applied.
    public func reload() throws -> ReloadReport {
        // Read and checked before taking the lock: a SIGHUP's reload reading
        // the file never holds up the control socket's requests.
        guard let reloader else { throw TenantChangeError.noConfigurationFile }
        let next = try reloader()
        try next.validate()
        return try administration.run {
            var refusals = Self.restartOnlyChanges(from: configuration, to: next)
            for tenant in next.tenants {
                guard let slot = slot(named: tenant.name) else { continue }
                refusals += Self.layoutChanges(from: slot.configuration, to: tenant)
            }
            guard refusals.isEmpty else { throw TenantChangeError.refused(refusals) }

            var report = ReloadReport()
            // Each tenant without a segment is tried again below.
            refusedTenants = [:]
            let wanted = Set(next.tenants.map(\.name))
            for (index, slot) in slots.enumerated() {
                guard let slot, !wanted.contains(slot.configuration.name) else { continue }
                report.removed.append(drainLocked(index))
                slots[index] = nil
                // The file goes with the tenant: its clients see the daemon
                // gone, and a tenant added back later gets a fresh segment
                // with the layout then configured.
                do { try runtimeDirectory?.remove(TenantName.fileName(slot.configuration.name)) } catch {
                    Log.warning("segment-not-removed", ["tenant": slot.configuration.name, "error": error])
                }
                Log.info("tenant-removed", ["tenant": slot.configuration.name])
            }
            var kept: [TenantConfiguration] = []
            for tenant in next.tenants {
                if let index = slotIndex(named: tenant.name), let slot = slots[index] {
                    if slot.configuration != tenant { report.updated.append(tenant.name) }
                    slot.configuration = tenant
                    if slot.state == .drained {
                        serveLocked(index)
                        report.resumed.append(tenant.name)
                    }
                    kept.append(tenant)
                    continue
                }
                do {
                    let segment = try openSegment(for: tenant)
                    if let generation = currentGeneration {
                        try segment.checkIntents(generation.intents)
                        try segment.publishIntents(generation.intents)
                        segment.publishGeneration(generation.id)
                    }
                    slots.append(TenantSlot(configuration: tenant, segment: segment))
                    metrics?.layout.setTenant(slots.count - 1, tenant.name)
                    serveLocked(slots.count - 1)
                    report.added.append(tenant.name)
                    kept.append(tenant)
                    Log.info("tenant-added", ["tenant": tenant.name, "channels": segment.layout.channelCount])
                } catch {
                    report.failed.append("\(tenant.name): \(error)")
                    refusedTenants[tenant.name] = "\(error)"
                    Log.error("tenant-refused", ["tenant": tenant.name, "error": error])
                }
            }
            var applied = next
            applied.tenants = kept
            configuration = applied
            // New weights and rate limits; the workers take them with the
            // publication.
            tenantPolicies.update(slots.map { $0?.configuration })
            republish()
            for index in slots.indices where slots[index]?.state == .serving {
                slots[index]?.segment.publishState(.serving)
            }
            refreshRoster()
            Log.info("reloaded", ["added": report.added.joined(separator: ","),
                                  "removed": report.removed.map(\.tenant).joined(separator: ","),
                                  "resumed": report.resumed.joined(separator: ","),
                                  "updated": report.updated.joined(separator: ","),
                                  "failed": report.failed.count])
            return report
        }
    }

    /// Answers what `tenant` has in flight, then stops serving it until a
    /// reload: its segment shows the daemon stopped, and what its clients
    /// submit after the drain began waits in the rings.
    public func drain(tenant name: String) throws -> DrainReport {
        try administration.run {
            guard let index = slotIndex(named: name) else { throw TenantChangeError.unknownTenant(name) }
            let serving = slots.compactMap { $0 }.filter { $0.state == .serving }
            if serving.count == 1 && serving[0].configuration.name == name { throw TenantChangeError.lastTenant(name) }
            defer { refreshRoster() }
            return drainLocked(index)
        }
    }

    /// Every tenant mused holds, as `musectl tenants` shows them (from the
    /// roster: never waits for a reload or drain in progress).
    public func tenantInfo() -> [TenantInfo] {
        currentRoster.entries.map { slot in
                let segment = slot.segment, tenant = slot.configuration
                var claimed = 0, inFlight: UInt64 = 0
                for channel in 0..<segment.layout.channelCount {
                    let observed = segment.observe(channel: channel)
                    if observed.isClaimed { claimed += 1 }
                    inFlight += observed.inFlight
                }
                return TenantInfo(name: tenant.name, state: slot.state.rawValue, path: segment.path, group: tenant.group,
                                  channels: segment.layout.channelCount, claimedChannels: claimed,
                                  ringDepth: segment.layout.ringDepth, maxFeatures: segment.layout.maxFeatures,
                                  inFlight: inFlight, weight: tenant.weight,
                                  rateLimit: tenant.rateLimit?.eventsPerSecond, burst: tenant.rateLimit?.burst)
        }
    }

    // MARK: Under the administration lock

    private func slotIndex(named name: String) -> Int? {
        slots.firstIndex { $0?.configuration.name == name }
    }

    private func slot(named name: String) -> TenantSlot? {
        slotIndex(named: name).flatMap { slots[$0] }
    }

    /// Deals the tenant's channels to the least loaded workers and has them
    /// serve it from their next round.
    private func serveLocked(_ index: Int) {
        guard let slot = slots[index] else { return }
        var load = channelsPerWorker
        var assignment: [Int: [ChannelIndex]] = [:]
        for channel in 0..<slot.segment.layout.channelCount {
            let worker = load.indices.min { load[$0] < load[$1] } ?? 0
            assignment[worker, default: []].append(ChannelIndex(channel))
            load[worker] += 1
        }
        for (worker, channels) in assignment {
            workers[worker].send(.serve(TenantIndex(index), slot.segment, channels))
        }
        slot.channelsByWorker = assignment
        slot.state = .serving
    }

    /// Has every worker holding the tenant's channels answer what was
    /// submitted before now and give the channels up; waits for them.
    private func drainLocked(_ index: Int) -> DrainReport {
        guard let slot = slots[index] else { return DrainReport(tenant: "", answered: 0, left: 0, milliseconds: 0) }
        let name = slot.configuration.name
        guard slot.state == .serving, !slot.channelsByWorker.isEmpty else {
            return DrainReport(tenant: name, answered: 0, left: 0, milliseconds: 0)
        }
        let started = ThreadSupport.monotonicNanoseconds()
        // Clients that check mused's state stop submitting; what they sent is answered.
        slot.segment.publishState(.stopped)
        let ticket = DrainTicket(workers: slot.channelsByWorker.count, deadline: started + Self.drainNanoseconds)
        for worker in slot.channelsByWorker.keys { workers[worker].send(.drain(TenantIndex(index), ticket)) }
        republish()
        // Workers report by the deadline; the margin covers a worker asleep
        // until its next housekeeping.
        while !ticket.isComplete && ThreadSupport.monotonicNanoseconds() < ticket.deadline + 1_000_000_000 {
            usleep(200)
        }
        slot.channelsByWorker = [:]
        slot.state = .drained
        let report = DrainReport(tenant: name, answered: ticket.answered, left: ticket.left,
                                 milliseconds: Double(ThreadSupport.monotonicNanoseconds() - started) / 1e6)
        Log.info("tenant-drained", ["tenant": name, "answered": report.answered, "left": report.left,
                                    "milliseconds": Int(report.milliseconds)])
        return report
    }

    /// Settings a reload cannot apply, each with the reason.
    static func restartOnlyChanges(from old: DaemonConfiguration, to new: DaemonConfiguration) -> [String] {
        var reasons: [String] = []
        func check<T: Equatable>(_ key: String, _ a: T, _ b: T) {
            if a != b { reasons.append("\(key) changed (\(a) → \(b)): it applies at the next start of mused") }
        }
        check("runtime_directory", old.runtimeDirectory, new.runtimeDirectory)
        check("state_directory", old.stateDirectory ?? "-", new.stateDirectory ?? "-")
        check("workers", old.workers, new.workers)
        check("batch_size", old.batchSize, new.batchSize)
        check("spin_us", old.spinNanoseconds / 1000, new.spinNanoseconds / 1000)
        check("admin_group", old.adminGroup ?? "-", new.adminGroup ?? "-")
        check("allow_foreign_runtime_dir", "\(old.runtimeDirectoryTrust)", "\(new.runtimeDirectoryTrust)")
        check("snapshot_io", "\(old.snapshotIO)", "\(new.snapshotIO)")
        check("max_snapshot_bytes", old.maximumSnapshotBytes, new.maximumSnapshotBytes)
        check("metrics_address", old.metricsAddress.map { "\($0)" } ?? "-", new.metricsAddress.map { "\($0)" } ?? "-")
        check("idle_policy", old.idlePolicy.rawValue, new.idlePolicy.rawValue)
        check("sketch_window", old.sketchWindow.description, new.sketchWindow.description)
        return reasons
    }

    /// Tenant settings fixed by its segment, each with the reason.
    static func layoutChanges(from old: TenantConfiguration, to new: TenantConfiguration) -> [String] {
        var reasons: [String] = []
        func check<T: Equatable>(_ key: String, _ a: T, _ b: T) {
            if a != b {
                reasons.append("tenant '\(new.name)': \(key) changed (\(a) → \(b)): a segment's layout cannot change "
                    + "while clients may map it; remove the tenant and reload (its segment file is deleted), then add it back and reload")
            }
        }
        check("channels", old.channels, new.channels)
        check("ring_depth", old.ringDepth, new.ringDepth)
        check("max_features", old.maxFeatures, new.maxFeatures)
        check("group", old.group ?? "-", new.group ?? "-")
        return reasons
    }
}
