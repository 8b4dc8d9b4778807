import MuseSnapshot

extension SnapshotIO {
    /// The names `snapshot_io` and `--snapshot-io` accept.
    public static let configurationNames = ["auto", "io_uring", "read"]

    public init?(configurationName: String) {
        switch configurationName {
        case "auto": self = .auto
        case "io_uring": self = .ioUring
        case "read": self = .plainRead
        default: return nil
        }
    }
}
