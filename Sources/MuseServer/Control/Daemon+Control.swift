import Foundation
import MuseControl
import MuseCore

extension Daemon {
    /// Answers one control request. Connections are served concurrently:
    /// `status` and `tenants` read published state and never wait; swaps,
    /// candidates, promotions and rollbacks are serialised among themselves and load with
    /// no lock the others need; reloads and drains hold the administration lock.
    func handle(_ request: ControlRequest) -> ControlResponse {
        switch request.command {
        case .tenants:
            return ControlResponse(ok: true, tenants: tenantInfo())
        case .reload:
            do {
                let report = try reload()
                return ControlResponse(ok: report.failed.isEmpty, error: report.failed.isEmpty ? nil
                                        : "some tenants could not be added: " + report.failed.joined(separator: "; "),
                                       tenants: tenantInfo(), reload: report)
            } catch {
                Log.warning("reload-refused", ["reason": error])
                return ControlResponse(ok: false, error: "\(error)")
            }
        case .drain:
            guard let tenant = request.tenant else { return ControlResponse(ok: false, error: "drain needs a tenant") }
            do {
                let report = try drain(tenant: tenant)
                return ControlResponse(ok: true, tenants: tenantInfo(), drain: report)
            } catch {
                return ControlResponse(ok: false, error: "\(error)")
            }
        case .status:
            return ControlResponse(ok: true, status: status())
        case .sketches:
            return ControlResponse(ok: true, sketches: Data(sketchFile().encoded()).base64EncodedString())
        case .rollback:
            let started = ThreadSupport.monotonicNanoseconds()
            do {
                let steps = try rollback()
                recordSwap("rollback", published: true, since: started)
                return ControlResponse(ok: true, steps: steps, status: status())
            } catch {
                recordSwap("rollback", published: false, since: started)
                return ControlResponse(ok: false, error: "\(error)")
            }
        case .candidate:
            guard let spec = request.candidate else {
                return ControlResponse(ok: false, error: "candidate needs the model file and a name")
            }
            // Below status and scrapes, as a swap.
            ThreadSupport.lowestPriority()
            let started = ThreadSupport.monotonicNanoseconds()
            do {
                let (steps, report) = try addCandidate(spec)
                recordSwap("candidate", published: true, since: started)
                return ControlResponse(ok: true, steps: steps, status: status(), candidate: report)
            } catch {
                recordSwap("candidate", published: false, since: started)
                Log.warning("candidate-refused", ["name": spec.name, "model": spec.modelFile, "reason": error])
                return ControlResponse(ok: false, error: "\(error)")
            }
        case .promote:
            guard let spec = request.promote else {
                return ControlResponse(ok: false, error: "promote needs the name of a shadow predictor")
            }
            // Below status and scrapes, as a swap.
            ThreadSupport.lowestPriority()
            let started = ThreadSupport.monotonicNanoseconds()
            do {
                let (steps, report) = try promote(spec)
                recordSwap("promote", published: true, since: started)
                return ControlResponse(ok: true, steps: steps, status: status(), promotion: report)
            } catch {
                recordSwap("promote", published: false, since: started)
                Log.warning("promote-refused", ["name": spec.name, "reason": error])
                return ControlResponse(ok: false, error: "\(error)", promotion: (error as? PromotionError)?.report)
            }
        case .swap:
            guard let path = request.path, path.hasPrefix("/") else {
                return ControlResponse(ok: false, error: "swap needs the snapshot's absolute path")
            }
            var figures: [ShadowInfo]?
            // Below status and scrapes; the connection's thread ends with the
            // request, so its priority is not restored.
            ThreadSupport.lowestPriority()
            let started = ThreadSupport.monotonicNanoseconds()
            do {
                let steps = try swap(to: path, allowSchemaChange: request.allowSchemaChange ?? false,
                                     gate: request.gate == true ? currentRoster.configuration.promotionGate : nil) { figures = $0 }
                recordSwap("swap", published: true, since: started)
                return ControlResponse(ok: true, steps: steps, status: status(), gate: figures)
            } catch {
                recordSwap("swap", published: false, since: started)
                Log.warning("swap-refused", ["path": path, "reason": error])
                return ControlResponse(ok: false, error: "\(error)", gate: figures)
            }
        }
    }

    private func recordSwap(_ kind: String, published: Bool, since started: UInt64) {
        metrics?.recordSwap(kind: kind, published: published,
                            seconds: Double(ThreadSupport.monotonicNanoseconds() - started) / 1e9)
    }

    /// Loads, verifies and publishes the generation in `path`. The serving
    /// generation is untouched unless every step succeeds.
    /// With a `gate`, the candidate must also pass it on the shadowed traffic;
    /// `report` receives the gate's figures either way.
    ///
    /// The load, the checks and recording the file in the state directory
    /// run with only the swap lock held, so `status`, a scrape, a reload or a
    /// drain go on meanwhile; only the publication takes the administration
    /// lock.
    public func swap(to path: String, allowSchemaChange: Bool, gate: PromotionGate? = nil,
                     report: ([ShadowInfo]) -> Void = { _ in }) throws -> [ControlResponse.Step] {
        guard let snapshots else { throw DaemonError.noSnapshotSupport }
        return try swapping.run {
            let prepared = try snapshots.prepare(path, allowSchemaChange: allowSchemaChange, serving: currentGeneration,
                                                 previous: previousGeneration)
            return try publishPrepared(prepared, gate: gate, report: report)
        }
    }

    /// The rest of a swap once its generation is loaded and verified: the
    /// gate if asked, the record in the state directory, the publication,
    /// and the record made the serving snapshot. Called with the swap lock held.
    func publishPrepared(_ prepared: SnapshotSource.Prepared, gate: PromotionGate? = nil,
                         report: ([ShadowInfo]) -> Void = { _ in }) throws -> [ControlResponse.Step] {
        let generation = prepared.generation
        var steps = prepared.steps
        if let gate {
            let started = ThreadSupport.monotonicNanoseconds()
            let (figures, refusal) = judge(generation, gate: gate)
            report(figures)
            steps.append(ControlResponse.Step(name: "gate", milliseconds: Double(ThreadSupport.monotonicNanoseconds() - started) / 1e6))
            if let refusal { throw DaemonError.gateRefused(refusal) }
        }
        if let copied = try prepared.record() { steps.append(copied) }
        let started = ThreadSupport.monotonicNanoseconds()
        do { try publish(generation) } catch {
            prepared.discard()
            throw error
        }
        let published = Double(ThreadSupport.monotonicNanoseconds() - started) / 1e6
        do { try prepared.commit() } catch {
            prepared.discard()
            Log.error("state-not-recorded", ["generation": generation.id, "reason": error,
                                             "effect": "a restart serves the previously recorded snapshot"])
        }
        return steps + [ControlResponse.Step(name: "publish", milliseconds: published)]
    }

    /// Serves the previous generation again (it stayed resident).
    public func rollback() throws -> [ControlResponse.Step] {
        try swapping.run {
            guard let previous = previousGeneration else { throw DaemonError.nothingToRollBackTo }
            let started = ThreadSupport.monotonicNanoseconds()
            try publish(previous)
            Log.info("rolled-back", ["generation": previous.id])
            do { try snapshots?.state?.commitRollback() } catch {
                Log.error("state-not-recorded", ["generation": previous.id, "reason": error])
            }
            return [ControlResponse.Step(name: "publish", milliseconds: Double(ThreadSupport.monotonicNanoseconds() - started) / 1e6)]
        }
    }

    public func status() -> DaemonStatus {
        func info(_ g: Generation?) -> DaemonStatus.GenerationInfo? {
            guard let g else { return nil }
            return DaemonStatus.GenerationInfo(
                id: g.id.rawValue, origin: g.origin,
                intents: g.intents.map {
                    DaemonStatus.IntentInfo(name: $0.name, id: $0.id, features: $0.featureCount,
                                            schemaHash: String($0.schemaHash, radix: 16))
                },
                predictors: g.routing.predictors.map(\.name))
        }
        let roster = currentRoster
        return DaemonStatus(pid: getpid(), runtimeDirectory: roster.configuration.runtimeDirectory,
                            tenants: roster.names.filter { !$0.isEmpty }, workers: roster.configuration.workers,
                            serving: info(currentGeneration), previous: info(previousGeneration),
                            shadows: shadowInfo())
    }
}
