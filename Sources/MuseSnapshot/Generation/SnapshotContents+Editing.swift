import MuseScoring

extension SnapshotContents {
    /// The next generation: these contents with `edits` applied in order,
    /// under a new id and creation time.
    ///
    /// What no edit names keeps its place and its bytes: models, predictors,
    /// maps, intents, routes and the canaries of untouched routes are copied,
    /// and additions go after what was there, so the sections of the result
    /// differ from these only where an edit reached (and predictor indices of
    /// the old generation stay valid in the new one). Canaries of the routes
    /// an edit touched keep their events and are scored again through the
    /// edited routing table; a predictor the edits did not change must score
    /// them exactly as recorded, which checks that the edit left the rest of
    /// the route alone.
    ///
    /// The model sources must be present (loaded with `keepModelSources`):
    /// the result is written out as a whole snapshot, and an empty source
    /// would silently drop the audit copy of a model.
    public func edited(_ edits: [GenerationEdit], generationID: UInt64, createdAt: UInt64) throws(GenerationEditError) -> SnapshotContents {
        guard generationID != 0 else { throw GenerationEditError("generation id 0 means no generation") }
        for m in models where m.source.bytes.count != m.source.byteCount {
            throw GenerationEditError("model '\(m.name)' has no source text here (\(m.source.byteCount) bytes in the file): "
                                      + "load the generation with its model sources kept to edit it")
        }
        var next = self
        next.generationID = generationID
        next.createdAt = createdAt
        var touchedRoutes = Set<RouteKey>()
        var changedPredictors = Set<String>()
        for edit in edits {
            switch edit {
            case .addModel(let m):
                try Self.checkName(m.name, kind: "model")
                guard !next.models.contains(where: { $0.name == m.name }) else {
                    throw GenerationEditError("a model named '\(m.name)' already exists")
                }
                next.models.append(m)
            case .addPredictor(let p):
                try Self.checkName(p.name, kind: "predictor")
                guard !next.predictors.contains(where: { $0.name == p.name }) else {
                    throw GenerationEditError("a predictor named '\(p.name)' already exists")
                }
                guard !p.members.isEmpty else { throw GenerationEditError("predictor '\(p.name)' has no models") }
                for member in p.members where !next.models.contains(where: { $0.name == member.model }) {
                    throw GenerationEditError("predictor '\(p.name)' names model '\(member.model)', which is not defined")
                }
                next.predictors.append(p)
            case .addShadow(let key, let predictor):
                let r = try next.routeIndex(key)
                try next.requirePredictor(predictor)
                guard next.routes[r].predictor != predictor, !next.routes[r].shadows.contains(predictor) else {
                    throw GenerationEditError("route \(key) already scores predictor '\(predictor)'")
                }
                next.routes[r].shadows.append(predictor)
                touchedRoutes.insert(key)
            case .removeShadow(let key, let predictor):
                let r = try next.routeIndex(key)
                guard let s = next.routes[r].shadows.firstIndex(of: predictor) else {
                    throw GenerationEditError("route \(key) has no shadow '\(predictor)'")
                }
                next.routes[r].shadows.remove(at: s)
                touchedRoutes.insert(key)
            case .setPrimary(let key, let predictor):
                let r = try next.routeIndex(key)
                try next.requirePredictor(predictor)
                next.routes[r].shadows.removeAll { $0 == predictor }
                next.routes[r].predictor = predictor
                touchedRoutes.insert(key)
            case .setMap(let predictor, let tenant, var entry):
                try next.requirePredictor(predictor)
                entry.predictor = predictor
                entry.tenant = tenant
                if let i = next.scoreMaps.entries.firstIndex(where: { $0.predictor == predictor && $0.tenant == tenant }) {
                    next.scoreMaps.entries[i] = entry
                } else {
                    next.scoreMaps.entries.append(entry)
                }
                changedPredictors.insert(predictor)
            case .setMetadata(let entry):
                if let i = next.metadata.firstIndex(where: { $0.key == entry.key }) {
                    next.metadata[i] = entry
                } else {
                    next.metadata.append(entry)
                }
            }
        }
        let table: RoutingTable
        do {
            if !changedPredictors.isEmpty {
                // As a load reads them back, so the recorded canaries match it.
                next.scoreMaps = try ScoreMapFile.parse(next.scoreMaps.encoded(), file: "maps")
            }
            table = try next.routingTable()
        } catch {
            throw GenerationEditError("the edited generation does not hold together: \(error)")
        }
        next.canaries = try Self.rescore(next.canaries, table: table, touched: touchedRoutes,
                                         changed: changedPredictors, routes: next.routes)
        return next
    }

    /// Canaries of touched routes, and of routes whose predictors' maps
    /// changed, scored again; the rest as they were.
    private static func rescore(_ canaries: [CanaryEvent], table: RoutingTable, touched: Set<RouteKey>,
                                changed: Set<String>, routes: [RouteSpec]) throws(GenerationEditError) -> [CanaryEvent] {
        var affected = touched
        if !changed.isEmpty {
            for r in routes where changed.contains(r.predictor) || r.shadows.contains(where: changed.contains) {
                affected.insert(RouteKey(tenant: r.tenant, intent: r.intent))
            }
        }
        guard !affected.isEmpty else { return canaries }
        let ids = Canaries.IDs(table)
        var out = canaries
        for (n, canary) in canaries.enumerated() where affected.contains(RouteKey(tenant: canary.tenant, intent: canary.intent)) {
            let now: [CanaryScore]
            do { now = try Canaries.score(canary, table: table, ids: ids, index: n) } catch {
                throw GenerationEditError("canary \(n): \(error)")
            }
            for old in canary.expected where !changed.contains(old.predictor) {
                guard let new = now.first(where: { $0.predictor == old.predictor }) else { continue }
                guard new.sameBits(old) else {
                    throw GenerationEditError("canary \(n) (\(canary.tenant)/\(canary.intent)): predictor '\(old.predictor)', "
                                              + "which the edit did not change, now scores raw \(new.raw) score \(new.score), "
                                              + "recorded raw \(old.raw) score \(old.score)")
                }
            }
            out[n].expected = now
        }
        return out
    }

    private func routeIndex(_ key: RouteKey) throws(GenerationEditError) -> Int {
        guard let r = routes.firstIndex(where: { $0.tenant == key.tenant && $0.intent == key.intent }) else {
            throw GenerationEditError("there is no route \(key)")
        }
        return r
    }

    private func requirePredictor(_ name: String) throws(GenerationEditError) {
        guard predictors.contains(where: { $0.name == name }) else {
            throw GenerationEditError("predictor '\(name)' is not defined")
        }
    }

    /// Model and predictor names are one word: the score-map text names a
    /// predictor on its own line, and '#' starts a comment there.
    static func checkName(_ name: String, kind: String) throws(GenerationEditError) {
        guard !name.isEmpty, name.utf8.count <= 255 else {
            throw GenerationEditError("a \(kind) name must be 1-255 bytes, got \(name.utf8.count)")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F || $0 == "#" }) else {
            throw GenerationEditError("\(kind) name '\(name)' must not contain spaces, control characters or '#'")
        }
    }
}

/// Why an edit cannot make a generation, in words an operator can act on.
public struct GenerationEditError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
