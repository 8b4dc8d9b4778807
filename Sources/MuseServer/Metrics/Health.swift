import MuseCore

/// An answer of `/healthz` or `/readyz`: whether the check passes, and one
/// line saying why, for a person reading a probe's failure.
public struct HealthVerdict: Sendable, Equatable {
    public let passes: Bool
    public let reason: String
}

extension Daemon {
    /// The longest a worker may go without a heartbeat and still count as
    /// alive: ten of the slowest housekeeping intervals (a worker beats every
    /// 50 ms, every 200 ms past 128 segments), well under the systemd
    /// watchdog's default 10 s.
    public static var livenessBeatAgeNanoseconds: UInt64 { 2_000_000_000 }

    /// `/healthz`: the workers progress. Each worker beats from its loop
    /// whether events flow or not (as the systemd watchdog judges it, by the
    /// heartbeat advancing); one whose last beat is older than
    /// `livenessBeatAgeNanoseconds` is stuck, and a restart is the remedy.
    /// Reads atomics only: answers while a swap, reload or retirement holds the
    /// administration lock.
    public func liveness(now: UInt64 = ThreadSupport.monotonicNanoseconds()) -> HealthVerdict {
        let ages = workers.map { now &- min(now, $0.heartbeat.lastBeatNanoseconds) }
        guard !ages.isEmpty else { return HealthVerdict(passes: false, reason: "no worker runs") }
        let stuck = ages.enumerated().filter { $0.element > Self.livenessBeatAgeNanoseconds }
        guard stuck.isEmpty else {
            let list = stuck.map { "worker \($0.offset) (last heartbeat \(Self.seconds($0.element)) ago)" }
            return HealthVerdict(passes: false, reason: "stuck: " + list.joined(separator: ", ")
                + "; a worker beats at least every 200 ms")
        }
        return HealthVerdict(passes: true, reason: "ok: \(ages.count) worker(s) progressing, "
            + "oldest heartbeat \(Self.seconds(ages.max() ?? 0)) ago")
    }

    /// `/readyz`: a generation serves, every tenant the configuration names
    /// has its segment up and served, and the workers progress. Reads the
    /// roster and the serving generation, never the administration lock; a
    /// change in progress shows once it finishes.
    public func readiness(now: UInt64 = ThreadSupport.monotonicNanoseconds()) -> HealthVerdict {
        guard let generation = generations.current else {
            return HealthVerdict(passes: false, reason: "not ready: no generation serves")
        }
        let roster = tenants.currentRoster
        var problems: [String] = []
        for tenant in roster.configuration.tenants {
            guard let entry = roster.entries.first(where: { $0.configuration.name == tenant.name }) else {
                let why = roster.refused[tenant.name].map { ": \($0)" } ?? ""
                problems.append("tenant \(tenant.name) has no segment\(why)")
                continue
            }
            if entry.segment.isDamaged {
                problems.append("tenant \(tenant.name)'s segment was truncated by a client (remove it and restart mused)")
            } else if entry.state == .retired {
                problems.append("tenant \(tenant.name) is drained (musectl reload serves it again)")
            }
        }
        let alive = liveness(now: now)
        if !alive.passes { problems.append(alive.reason) }
        guard problems.isEmpty else {
            return HealthVerdict(passes: false, reason: "not ready: " + problems.joined(separator: "; "))
        }
        return HealthVerdict(passes: true, reason: "ready: generation \(generation.id) serves "
            + "\(roster.entries.count) tenant(s)")
    }

    private static func seconds(_ nanoseconds: UInt64) -> String {
        nanoseconds < 1_000_000_000 ? "\(nanoseconds / 1_000_000) ms"
            : "\(nanoseconds / 1_000_000_000).\(nanoseconds / 100_000_000 % 10) s"
    }
}
