import MuseControl
import MuseIPC

extension GenerationManager {
    /// Loads `candidate` and verifies it as the successor of `resident`
    /// (schema against the serving generation; a generation id already
    /// resident with other content is refused, since completions name their
    /// generation by id) and against every segment in `segments`. Takes no
    /// daemon lock: `status`, a scrape, a reload or a retirement go on
    /// meanwhile. Writes nothing until the result is published.
    func validate(_ candidate: GenerationCandidate, against resident: ResidentGenerations,
                  segments: [Segment]) throws -> ValidatedGeneration {
        guard let snapshots else { throw DaemonError.noSnapshotSupport }
        let prepared: SnapshotSource.Prepared
        switch candidate {
        case .file(let path, let allowSchemaChange):
            prepared = try snapshots.prepare(path, allowSchemaChange: allowSchemaChange, serving: resident.serving,
                                             previous: resident.previous)
        case .built(let bytes, let origin):
            prepared = try snapshots.prepare(bytes: bytes, origin: origin, serving: resident.serving,
                                             previous: resident.previous)
        }
        // Publication checks again, with the intents' width warnings: a
        // reload may add a segment in between.
        for segment in segments { try segment.checkIntents(prepared.generation.intents) }
        return ValidatedGeneration(prepared: prepared)
    }

    /// Loads, verifies and publishes the generation in `path`. The serving
    /// generation is untouched unless every step succeeds.
    /// With a `gate`, the candidate must also pass it on the shadowed traffic;
    /// `report` receives the gate's figures either way.
    public func swap(to path: String, allowSchemaChange: Bool, gate: PromotionGate? = nil,
                     report: ([ShadowInfo]) -> Void = { _ in }) throws -> [ControlResponse.Step] {
        try swapping.run {
            let validated = try validate(.file(path, allowSchemaChange: allowSchemaChange), against: resident,
                                         segments: tenants.currentRoster.segments)
            return try publish(validated, gate: gate, report: report)
        }
    }

    /// The rest of a change once its generation is validated: the gate if
    /// asked, the record in the state directory, the publication (the only
    /// step under the administration lock), and the record made the serving
    /// snapshot. Called with the swap lock held.
    func publish(_ validated: ValidatedGeneration, gate: PromotionGate? = nil,
                 report: ([ShadowInfo]) -> Void = { _ in }) throws -> [ControlResponse.Step] {
        let generation = validated.generation, prepared = validated.prepared
        var steps = validated.steps
        if let gate {
            let started = ThreadSupport.monotonicNanoseconds()
            let (figures, refusal) = judge(generation, gate: gate)
            report(figures)
            steps.append(ControlResponse.Step("gate", since: started))
            if let refusal { throw DaemonError.gateRefused(refusal) }
        }
        if let copied = try prepared.record() { steps.append(copied) }
        let started = ThreadSupport.monotonicNanoseconds()
        do { try publish(generation) } catch {
            prepared.discard()
            throw error
        }
        let published = ControlResponse.Step("publish", since: started)
        do { try prepared.commit() } catch {
            prepared.discard()
            Log.error("state-not-recorded", ["generation": generation.id, "reason": error,
                                             "effect": "a restart serves the previously recorded snapshot"])
        }
        return steps + [published]
    }

    /// Serves the previous generation again (it stayed resident).
    public func rollback() throws -> [ControlResponse.Step] {
        try swapping.run {
            guard let previous else { throw DaemonError.nothingToRollBackTo }
            let started = ThreadSupport.monotonicNanoseconds()
            try publish(previous)
            Log.info("rolled-back", ["generation": previous.id])
            do { try snapshots?.state?.commitRollback() } catch {
                Log.error("state-not-recorded", ["generation": previous.id, "reason": error])
            }
            return [ControlResponse.Step("publish", since: started)]
        }
    }
}
