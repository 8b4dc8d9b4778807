import CMuse

/// The status the daemon writes into a completion: muse.h's `muse_status`
/// values 0...63, as a Swift type so the layers above MuseIPC need no C.
public enum CompletionStatus: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0
    case unknownIntent = 1
    case featureCount = 2
    case noRoute = 3
    case overloaded = 4
    case notServing = 5
    case `internal` = 6
    /// The model produced a non-finite score; never answered as OK.
    case badScore = 7

    /// muse.h's description, so logs and clients say the same thing.
    public var description: String { String(cString: muse_strerror(Int32(rawValue))) }
}

/// What the daemon last told clients about itself, in the segment header.
public enum DaemonState: UInt32, Sendable {
    case starting = 0
    case serving = 1
    case stopped = 2
}
