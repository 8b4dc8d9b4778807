/// Why a reload or a retirement was refused.
public enum TenantChangeError: Error, CustomStringConvertible {
    case noConfigurationFile
    case refused([String])
    case unknownTenant(String)
    case lastTenant(String)

    public var description: String {
        switch self {
        case .noConfigurationFile:
            "mused was started without --config: there is no file to reload"
        case .refused(let reasons):
            "reload refused, nothing was applied: " + reasons.joined(separator: "; ")
        case .unknownTenant(let name):
            "mused serves no tenant '\(name)'"
        case .lastTenant(let name):
            "'\(name)' is the last tenant served; stop mused instead"
        }
    }
}
