/// Whether workers answer a tenant's channels. Encoded as the words
/// `musectl tenants` has always shown: "serving" and "drained".
public enum TenantState: String, Codable, Sendable {
    /// Its channels are dealt to workers.
    case serving
    /// `musectl drain` answered what it had in flight and its channels were
    /// given up; its segment shows the daemon stopped. A reload serves it
    /// again if the configuration still names it.
    case retired = "drained"
}
