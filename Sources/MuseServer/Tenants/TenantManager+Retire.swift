#if canImport(Glibc)
import Glibc
#endif
import MuseControl
import MuseIPC

extension TenantManager {
    /// How long a retirement waits for a tenant's clients to read their answers.
    static var retirementNanoseconds: UInt64 { 5_000_000_000 }

    /// Retires `tenant`: answers what it has in flight, then stops serving
    /// it until a reload: its segment shows the daemon stopped, and what its
    /// clients submit after the retirement began waits in the rings.
    func retire(tenant name: String, republishing generations: GenerationManager) throws -> RetirementReport {
        try administration.run {
            guard let index = slotIndex(named: name) else { throw TenantChangeError.unknownTenant(name) }
            let serving = slots.compactMap { $0 }.filter { $0.state == .serving }
            if serving.count == 1 && serving[0].configuration.name == name { throw TenantChangeError.lastTenant(name) }
            defer { refreshRoster() }
            return retireLocked(index, republishing: generations)
        }
    }

    // MARK: Under the administration lock

    func slotIndex(named name: String) -> Int? {
        slots.firstIndex { $0?.configuration.name == name }
    }

    func slot(named name: String) -> TenantSlot? {
        slotIndex(named: name).flatMap { slots[$0] }
    }

    /// Deals the tenant's channels to the least loaded workers and has them
    /// serve it from their next round.
    func serveLocked(_ index: Int) {
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
    func retireLocked(_ index: Int, republishing generations: GenerationManager) -> RetirementReport {
        guard let slot = slots[index] else { return RetirementReport(tenant: "", answered: 0, left: 0, milliseconds: 0) }
        let name = slot.configuration.name
        guard slot.state == .serving, !slot.channelsByWorker.isEmpty else {
            return RetirementReport(tenant: name, answered: 0, left: 0, milliseconds: 0)
        }
        let started = ThreadSupport.monotonicNanoseconds()
        // Clients that check mused's state stop submitting; what they sent is answered.
        slot.segment.publishState(.stopped)
        let ticket = RetirementTicket(workers: slot.channelsByWorker.count, deadline: started + Self.retirementNanoseconds)
        for worker in slot.channelsByWorker.keys { workers[worker].send(.retire(TenantIndex(index), ticket)) }
        generations.republish()
        // Workers report by the deadline; the margin covers a worker asleep
        // until its next housekeeping.
        while !ticket.isComplete && ThreadSupport.monotonicNanoseconds() < ticket.deadline + 1_000_000_000 {
            usleep(200)
        }
        slot.channelsByWorker = [:]
        slot.state = .retired
        let report = RetirementReport(tenant: name, answered: ticket.answered, left: ticket.left,
                                 milliseconds: Double(ThreadSupport.monotonicNanoseconds() - started) / 1e6)
        Log.info("tenant-drained", ["tenant": name, "answered": report.answered, "left": report.left,
                                    "milliseconds": Int(report.milliseconds)])
        return report
    }
}
