import CMuse

/// The release and the ABI this build belongs to, read from muse.h's macros:
/// the one place a release is written (libmuse, the Python and the Java
/// clients read the same macros), so `mused --version` cannot drift from it.
public enum MuseVersion {
    /// The release, `MUSE_VERSION_STRING` ("1.3.0").
    public static let release: String = MUSE_VERSION_STRING
    public static let major = Int(MUSE_VERSION_MAJOR)
    public static let minor = Int(MUSE_VERSION_MINOR)
    public static let patch = Int(MUSE_VERSION_PATCH)
    /// The shared-memory ABI muse.h describes, `MUSE_ABI_MAJOR.MUSE_ABI_MINOR` ("1.1").
    public static let abi = "\(MUSE_ABI_MAJOR).\(MUSE_ABI_MINOR)"

    /// What `TOOL --version` prints: the release, then the versions an
    /// operator must match against clients and files. The snapshot format
    /// lives in MuseSnapshot, which depends on this module, so it is passed in.
    public static func line(tool: String, snapshotFormat: UInt32) -> String {
        "\(tool) \(release) (muse.h ABI \(abi), snapshot format \(snapshotFormat))"
    }
}
