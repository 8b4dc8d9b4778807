extension Canaries {
    /// Every route must carry at least one canary: a route no canary crosses
    /// would be served without ever having been scored against what its
    /// builder recorded, and a snapshot without canaries checks nothing.
    static func requireCoverage(_ events: [CanaryEvent], routes: [RouteSpec]) throws(SnapshotError) {
        var covered = Set<RouteKey>()
        for e in events { covered.insert(RouteKey(tenant: e.tenant, intent: e.intent)) }
        for route in routes where !covered.contains(RouteKey(tenant: route.tenant, intent: route.intent)) {
            throw .malformedSection(SectionKind.canaries.name,
                                    "route \(route.tenant)/\(route.intent) has no canary event; every route must have one")
        }
    }
}
