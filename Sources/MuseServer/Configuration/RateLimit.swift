/// Tokens-per-second admission for one tenant: `eventsPerSecond` on average,
/// up to `burst` at once.
public struct RateLimit: Sendable, Equatable {
    public var eventsPerSecond: Int
    public var burst: Int

    public init(eventsPerSecond: Int, burst: Int) {
        self.eventsPerSecond = eventsPerSecond
        self.burst = burst
    }
}
