/// How an idle worker waits for work (see `IdleStrategy`).
public enum IdlePolicy: String, Sendable, CaseIterable {
    /// Never sleep: lowest latency, one busy core per worker.
    case busySpin = "busy-spin"
    /// Spin for a budget learned from the gaps between events (at most
    /// `spin_us`), yield, then sleep on the doorbells. The default.
    case adaptive
    /// Sleep on the doorbells at once: least CPU, a wake-up per burst.
    case lowPower = "low-power"
}
