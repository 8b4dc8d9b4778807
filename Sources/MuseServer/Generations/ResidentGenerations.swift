/// The generations resident at one moment: the one workers serve and the one
/// before it, kept for an instant rollback. A value, so a swap validates
/// against one consistent pair while another request publishes.
public struct ResidentGenerations: Sendable {
    public var serving: Generation?
    public var previous: Generation?
}
