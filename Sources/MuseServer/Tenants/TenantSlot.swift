import MuseControl
import MuseIPC

/// A tenant the daemon holds a segment for, at a fixed `TenantIndex`: the
/// index is the slot's position and never changes while mused runs, so a
/// reload cannot shift one tenant's events onto another's routes.
final class TenantSlot {
    var configuration: TenantConfiguration
    let segment: Segment
    var state: TenantState
    /// Which worker drains which of its channels (while serving).
    var channelsByWorker: [Int: [ChannelIndex]] = [:]

    init(configuration: TenantConfiguration, segment: Segment) {
        self.configuration = configuration
        self.segment = segment
        state = .serving
    }
}
