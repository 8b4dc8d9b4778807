import MuseControl
import MuseIPC

extension TenantManager {
    /// Reads the configuration file again and applies it without a restart:
    /// adds tenants, removes tenants (retiring them first: their in-flight
    /// events are answered), serves retired tenants again, and takes new weights and rate limits.
    /// What cannot change live (a segment's layout or group, workers,
    /// directories, addresses) refuses the whole reload with the reasons, and
    /// nothing is applied.
    func reload(republishing generations: GenerationManager) throws -> ReloadReport {
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
                report.removed.append(retireLocked(index, republishing: generations))
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
                    if slot.state == .retired {
                        serveLocked(index)
                        report.resumed.append(tenant.name)
                    }
                    kept.append(tenant)
                    continue
                }
                do {
                    let segment = try openSegment(for: tenant)
                    if let generation = generations.current {
                        try segment.checkIntents(generation.intents)
                        try segment.publishIntents(generation.intents)
                        segment.publishGeneration(generation.id)
                    }
                    slots.append(TenantSlot(configuration: tenant, segment: segment))
                    metricsLayout?.setTenant(slots.count - 1, tenant.name)
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
            generations.republish()
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
