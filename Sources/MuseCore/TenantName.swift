import CMuse

/// The rules for a tenant name. It becomes a file name in the runtime
/// directory (`<name>.muse`) and a label in logs and metrics, so it is kept to
/// a plain, portable alphabet: letters, digits, '.', '_' and '-', not starting
/// with '.' (no "..", no hidden files, no '/'), 1-63 bytes.
public enum TenantName {
    public static var maxLength: Int { Int(MUSE_TENANT_NAME_SIZE) - 1 }

    /// Throws unless `name` follows the rules.
    public static func validate(_ name: String) throws(TenantNameError) {
        let bytes = Array(name.utf8)
        guard (1...maxLength).contains(bytes.count), bytes[0] != UInt8(ascii: "."),
              bytes.allSatisfy(isAllowed)
        else { throw TenantNameError(name: name) }
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// The segment's file name inside the runtime directory.
    public static func fileName(_ name: String) -> String { name + MUSE_SEGMENT_SUFFIX }
}

/// A tenant name that breaks `TenantName`'s rules.
public struct TenantNameError: Error, Equatable, CustomStringConvertible, Sendable {
    public let name: String
    public init(name: String) { self.name = name }
    public var description: String {
        "tenant name '\(name)' must be 1-\(TenantName.maxLength) bytes of letters, digits, '.', '_' or '-', "
            + "not starting with '.'"
    }
}
