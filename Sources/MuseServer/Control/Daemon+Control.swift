import Foundation
import MuseControl
import MuseCore

extension Daemon {
    /// Answers one control request. Connections are served concurrently:
    /// `status` and `tenants` read published state and never wait; swaps,
    /// candidates, promotions and rollbacks are serialised among themselves and load with
    /// no lock the others need; reloads and retirements hold the administration lock.
    func handle(_ request: ControlRequest) -> ControlResponse {
        switch request.command {
        case .tenants:
            return ControlResponse(ok: true, tenants: tenants.tenantInfo())
        case .reload:
            do {
                let report = try reload()
                return ControlResponse(ok: report.failed.isEmpty, error: report.failed.isEmpty ? nil
                                        : "some tenants could not be added: " + report.failed.joined(separator: "; "),
                                       tenants: tenants.tenantInfo(), reload: report)
            } catch {
                Log.warning("reload-refused", ["reason": error])
                return ControlResponse(ok: false, error: "\(error)")
            }
        case .retire:
            guard let tenant = request.tenant else { return ControlResponse(ok: false, error: "drain needs a tenant") }
            do {
                let report = try retire(tenant: tenant)
                return ControlResponse(ok: true, tenants: tenants.tenantInfo(), retirement: report)
            } catch {
                return ControlResponse(ok: false, error: "\(error)")
            }
        case .status:
            return ControlResponse(ok: true, status: status())
        case .sketches:
            return ControlResponse(ok: true, sketches: Data(sketchFile().encoded()).base64EncodedString())
        case .rollback:
            // An instant publication of a resident generation: at the
            // connection's own priority.
            return changeGeneration("rollback", belowStatus: false, subject: []) {
                ControlResponse(ok: true, steps: try generations.rollback(), status: status())
            }
        case .candidate:
            guard let spec = request.candidate else {
                return ControlResponse(ok: false, error: "candidate needs the model file and a name")
            }
            return changeGeneration("candidate", subject: [("name", spec.name), ("model", spec.modelFile)]) {
                let (steps, report) = try generations.addCandidate(spec)
                return ControlResponse(ok: true, steps: steps, status: status(), candidate: report)
            }
        case .promote:
            guard let spec = request.promote else {
                return ControlResponse(ok: false, error: "promote needs the name of a shadow predictor")
            }
            return changeGeneration("promote", subject: [("name", spec.name)], refused: { error in
                ControlResponse(ok: false, error: "\(error)", promotion: (error as? PromotionError)?.report)
            }) {
                let (steps, report) = try generations.promote(spec)
                return ControlResponse(ok: true, steps: steps, status: status(), promotion: report)
            }
        case .swap:
            guard let path = request.path, path.hasPrefix("/") else {
                return ControlResponse(ok: false, error: "swap needs the snapshot's absolute path")
            }
            var figures: [ShadowInfo]?
            let gate = request.gate == true ? tenants.currentRoster.configuration.promotionGate : nil
            return changeGeneration("swap", subject: [("path", path)], refused: { error in
                ControlResponse(ok: false, error: "\(error)", gate: figures)
            }) {
                let steps = try generations.swap(to: path, allowSchemaChange: request.allowSchemaChange ?? false,
                                                 gate: gate) { figures = $0 }
                return ControlResponse(ok: true, steps: steps, status: status(), gate: figures)
            }
        }
    }

    /// What every request that changes the generation shares: below
    /// `status` and scrapes unless `belowStatus` is false (the connection's
    /// thread ends with the request, so its priority is not restored), timed
    /// into the swap metrics whether published or refused, and a refusal
    /// logged as `KIND-refused` with `subject` and the reason.
    private func changeGeneration(_ kind: String, belowStatus: Bool = true, subject: [(String, Any)],
                                  refused: (any Error) -> ControlResponse = { ControlResponse(ok: false, error: "\($0)") },
                                  _ change: () throws -> ControlResponse) -> ControlResponse {
        if belowStatus { ThreadSupport.lowestPriority() }
        let started = ThreadSupport.monotonicNanoseconds()
        do {
            let response = try change()
            recordSwap(kind, published: true, since: started)
            return response
        } catch {
            recordSwap(kind, published: false, since: started)
            Log.write(.warning, "\(kind)-refused", subject + [("reason", error)])
            return refused(error)
        }
    }

    private func recordSwap(_ kind: String, published: Bool, since started: UInt64) {
        metrics?.recordSwap(kind: kind, published: published,
                            seconds: Double(ThreadSupport.monotonicNanoseconds() - started) / 1e9)
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
        let roster = tenants.currentRoster
        let resident = generations.resident
        return DaemonStatus(pid: getpid(), runtimeDirectory: roster.configuration.runtimeDirectory,
                            tenants: roster.names.filter { !$0.isEmpty }, workers: roster.configuration.workers,
                            serving: info(resident.serving), previous: info(resident.previous),
                            shadows: generations.shadowInfo())
    }
}
