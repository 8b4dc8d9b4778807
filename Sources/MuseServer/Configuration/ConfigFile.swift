#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseIPC
import MuseSnapshot
import TOMLKit

/// mused's configuration file: TOML, documented key by key in
/// `systemd/mused.toml`.
///
/// Everything is checked here, before mused touches the system: TOML syntax,
/// unknown keys, types, ranges, tenant names, duplicate tenants, groups. A
/// mistake is reported with the file, the line and the key that wrote it
/// (`/etc/muse/mused.toml:12: tenant[1].channels: ...`).
///
/// TOMLKit 0.6.0 never frees its parsed tables, nor what `keys` and `string`
/// return from C: reading a file leaks a few KB, once per start (and per
/// reload); LeakSanitizer reports it at exit.
public enum ConfigFile {
    /// What `max_snapshot_bytes` and `--max-snapshot-bytes` accept: 1 MiB to 64 GiB.
    public static let snapshotSizeRange = (1 << 20)...(1 << 36)

    public static let topLevelKeys = [
        "runtime_directory", "state_directory", "admin_group", "allow_foreign_runtime_dir", "workers",
        "batch_size", "spin_us", "metrics_address", "idle_policy", "snapshot", "snapshot_io", "max_snapshot_bytes", "promotion_gate",
        "sketch_window",
        "tenant",
    ]
    public static let promotionGateKeys = ["max_psi", "min_events", "max_relative_error"]
    public static let tenantKeys = ["name", "group", "channels", "ring_depth", "max_features", "weight", "rate_limit",
                                    "alert_thresholds", "shadow_sample"]
    /// The sparsest shadow sampling a tenant may ask for (`shadow_sample`).
    public static let maxShadowSample = 1_000_000
    /// Most alert thresholds a tenant may declare: each costs a compare per
    /// scored event and a counter per predictor.
    public static let maxAlertThresholds = 4
    public static let rateLimitKeys = ["events_per_second", "burst"]

    /// The largest weight and rate a tenant may be given.
    public static let maxWeight = 1000
    public static let maxEventsPerSecond = 1_000_000_000

    /// Reads and checks `path`.
    public static func load(path: String) throws(ConfigFileError) -> DaemonConfiguration {
        let text: String
        do {
            text = try readText(path)
        } catch {
            throw ConfigFileError(file: path, line: nil, key: nil, message: "cannot read the configuration file: \(error)")
        }
        var configuration = try parse(text, file: path)
        configuration.configurationFile = path
        return configuration
    }

    /// Checks `text`, naming `file` in its errors. Tenants come only from the
    /// file: an empty list means the file configures none.
    public static func parse(_ text: String, file: String) throws(ConfigFileError) -> DaemonConfiguration {
        try ConfigSourceCheck.check(text, file: file)
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let line = error.source.begin.line
            throw ConfigFileError(file: file, line: line, key: keyWritten(on: line, of: text),
                                  message: "not valid TOML: \(error.description)")
        } catch {
            throw ConfigFileError(file: file, line: nil, key: nil, message: "not valid TOML: \(error)")
        }
        let reader = Reader(file: file, lines: TOMLSourceLines(text))
        return try reader.configuration(root)
    }

    /// The key a syntax error's line starts to write, or the table its
    /// complete header names, if it does either.
    static func keyWritten(on line: Int, of text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard line >= 1, line <= lines.count else { return nil }
        let source = lines[line - 1].drop { $0 == " " || $0 == "\t" }
        let written: Substring
        if source.hasPrefix("[") {
            let name = source.drop { $0 == "[" }
            guard let close = name.firstIndex(of: "]") else { return nil }
            written = name[..<close]
        } else {
            guard !source.hasPrefix("#"), let equals = source.firstIndex(of: "=") else { return nil }
            written = source[..<equals]
        }
        let key = TOMLSourceLines.keyComponents(written).joined(separator: ".")
        return key.isEmpty ? nil : key
    }

    /// Why `path` cannot be the start snapshot, or nil. It must be a regular
    /// file mused may read: checked with stat(2) and access(2), never by
    /// opening it (opening a FIFO waits for a writer).
    public static func snapshotFileProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return String(cString: strerror(errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return "not a regular file (a directory)"
        case S_IFIFO: return "not a regular file (a FIFO)"
        case S_IFSOCK: return "not a regular file (a socket)"
        case S_IFCHR, S_IFBLK: return "not a regular file (a device)"
        default: return "not a regular file"
        }
        guard access(path, R_OK) == 0 else { return String(cString: strerror(errno)) }
        return nil
    }

    private static func readText(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemCallError("stat", path) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw ConfigReadError.notARegularFile }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError("read", path)
            }
            if n == 0 { break }
            bytes += buffer[..<n]
            // A configuration file is small; anything this big is a mistake.
            guard bytes.count <= 1 << 20 else { throw ConfigReadError.tooLarge }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ConfigReadError.notUTF8 }
        return text
    }
}

private enum ConfigReadError: Error, CustomStringConvertible {
    case notARegularFile, tooLarge, notUTF8
    var description: String {
        switch self {
        case .notARegularFile: "it is not a regular file"
        case .tooLarge: "it is larger than 1 MiB"
        case .notUTF8: "it is not UTF-8 text"
        }
    }
}

/// A mistake in a configuration file: where, which key, what.
public struct ConfigFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    /// 1-based; nil when the mistake is not on one line (the file is unreadable).
    public let line: Int?
    /// The key's path: `workers`, `tenant[1].rate_limit.burst`.
    public let key: String?
    public let message: String

    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let key { text += "\(key): " }
        return text + message
    }
}

/// Walks the parsed document, with the source's lines at hand for errors.
private struct Reader {
    let file: String
    let lines: TOMLSourceLines

    func error(_ key: String, _ message: String) -> ConfigFileError {
        ConfigFileError(file: file, line: lines.line(of: key), key: key, message: message)
    }

    func configuration(_ root: TOMLTable) throws(ConfigFileError) -> DaemonConfiguration {
        try checkKeys(root, at: "", allowed: ConfigFile.topLevelKeys)
        var config = DaemonConfiguration(tenants: [])
        if let path = try string(root, "runtime_directory", at: "") {
            try checkAbsolute(path, "runtime_directory")
            config.runtimeDirectory = path
        }
        if let path = try string(root, "state_directory", at: "") {
            try checkAbsolute(path, "state_directory")
            config.stateDirectory = path
        }
        if let path = try string(root, "snapshot", at: "") {
            try checkAbsolute(path, "snapshot")
            // Checked now, so a start fails before it creates anything.
            if let problem = ConfigFile.snapshotFileProblem(path) { throw error("snapshot", "\"\(path)\": \(problem)") }
            config.snapshot = URL(filePath: path).standardizedFileURL.path
        }
        if let text = try string(root, "snapshot_io", at: "") {
            guard let io = SnapshotIO(configurationName: text) else {
                throw error("snapshot_io", "expected one of \(SnapshotIO.configurationNames.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(text)\"")
            }
            config.snapshotIO = io
        }
        if let bytes = try int(root, "max_snapshot_bytes", at: "", in: ConfigFile.snapshotSizeRange) {
            config.maximumSnapshotBytes = bytes
        }
        if let group = try string(root, "admin_group", at: "") {
            try checkGroup(group, "admin_group")
            config.adminGroup = group
        }
        if let allow = try bool(root, "allow_foreign_runtime_dir", at: "") {
            config.runtimeDirectoryTrust = allow ? .anyOwner : .ownedExclusively
        }
        if let workers = try int(root, "workers", at: "", in: 1...32) { config.workers = workers }
        if let batch = try int(root, "batch_size", at: "", in: 1...4096) { config.batchSize = batch }
        if let spin = try int(root, "spin_us", at: "", in: 0...1_000_000) { config.spinNanoseconds = UInt64(spin) * 1000 }
        if let text = try string(root, "metrics_address", at: "") {
            guard let address = MetricsAddress(text) else {
                throw error("metrics_address", "expected \(MetricsAddress.expected), got \"\(text)\"")
            }
            config.metricsAddress = address
        }
        if let text = try string(root, "idle_policy", at: "") {
            guard let policy = IdlePolicy(rawValue: text) else {
                throw error("idle_policy", "expected one of \(IdlePolicy.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), got \"\(text)\"")
            }
            config.idlePolicy = policy
        }
        if let text = try string(root, "sketch_window", at: "") {
            guard let window = SketchWindow(configurationText: text) else {
                throw error("sketch_window", "expected \"since-publication\" or a duration such as \"30m\" (s, m, h or d) from "
                    + "\(SketchWindow.secondsRange.lowerBound) s to \(SketchWindow.secondsRange.upperBound / 86_400) days, got \"\(text)\"")
            }
            config.sketchWindow = window
        }
        if let value = root["promotion_gate"] {
            guard let table = value.table else {
                throw error("promotion_gate", "expected a table such as { max_psi = 0.1, min_events = 1000 }, got \(typeName(value))")
            }
            try checkKeys(table, at: "promotion_gate", allowed: ConfigFile.promotionGateKeys)
            if let psi = try double(table, "max_psi", at: "promotion_gate", in: 0.001...10) {
                config.promotionGate.maximumPSI = psi
            }
            if let events = try int(table, "min_events", at: "promotion_gate", in: 1...1_000_000_000) {
                config.promotionGate.minimumEvents = UInt64(events)
            }
            if let bound = try double(table, "max_relative_error", at: "promotion_gate", in: 0.001...1) {
                config.promotionGate.maximumRelativeError = bound
            }
        }
        if let value = root["tenant"] {
            guard let array = value.array, array.allSatisfy({ $0.table != nil }) else {
                throw error("tenant", "expected an array of tables: write each tenant as a [[tenant]] section, got \(typeName(value))")
            }
            var firstLine: [String: String] = [:]
            for index in 0..<array.count {
                let path = "tenant[\(index)]"
                let tenant = try self.tenant(array[index].table!, at: path)
                if let first = firstLine[tenant.name] {
                    throw error("\(path).name", "tenant '\(tenant.name)' is configured twice (first as \(first)"
                        + "\(lines.line(of: "\(first).name").map { " on line \($0)" } ?? "")); a segment has exactly one owner")
                }
                firstLine[tenant.name] = path
                config.tenants.append(tenant)
            }
        }
        return config
    }

    func tenant(_ table: TOMLTable, at path: String) throws(ConfigFileError) -> TenantConfiguration {
        try checkKeys(table, at: path, allowed: ConfigFile.tenantKeys)
        guard let name = try string(table, "name", at: path) else { throw error(path, "a tenant needs a name") }
        do { try TenantName.validate(name) } catch { throw self.error("\(path).name", "\(error)") }
        var tenant = TenantConfiguration(name: name)
        if let group = try string(table, "group", at: path) {
            try checkGroup(group, "\(path).group")
            tenant.group = group
        }
        if let channels = try int(table, "channels", at: path, in: 1...SegmentLayout.maxChannels) { tenant.channels = channels }
        if let depth = try int(table, "ring_depth", at: path, in: 2...SegmentLayout.maxRingDepth) {
            guard depth & (depth - 1) == 0 else {
                throw error("\(path).ring_depth", "must be a power of two in 2...\(SegmentLayout.maxRingDepth), got \(depth)")
            }
            tenant.ringDepth = depth
        }
        if let features = try int(table, "max_features", at: path, in: 1...SegmentLayout.maxFeatureLimit) {
            tenant.maxFeatures = features
        }
        if let weight = try int(table, "weight", at: path, in: 1...ConfigFile.maxWeight) { tenant.weight = weight }
        if let value = table["rate_limit"] {
            let limitPath = "\(path).rate_limit"
            guard let limit = value.table else {
                throw error(limitPath, "expected a table such as { events_per_second = 10000, burst = 20000 }, got \(typeName(value))")
            }
            try checkKeys(limit, at: limitPath, allowed: ConfigFile.rateLimitKeys)
            guard let rate = try int(limit, "events_per_second", at: limitPath, in: 1...ConfigFile.maxEventsPerSecond) else {
                throw error(limitPath, "a rate limit needs events_per_second")
            }
            let burst = try int(limit, "burst", at: limitPath, in: 1...ConfigFile.maxEventsPerSecond) ?? rate
            tenant.rateLimit = RateLimit(eventsPerSecond: rate, burst: burst)
        }
        if let every = try int(table, "shadow_sample", at: path, in: 1...ConfigFile.maxShadowSample) {
            tenant.shadowSample = every
        }
        if let value = table["alert_thresholds"] {
            tenant.alertThresholds = try alertThresholds(value, at: "\(path).alert_thresholds")
        }
        return tenant
    }

    // MARK: - Keys and values

    private func join(_ table: String, _ key: String) -> String { table.isEmpty ? key : "\(table).\(key)" }

    /// `alert_thresholds = [0.95, 0.99]`: levels on the reference scale, in
    /// (0, 1), strictly ascending, at most `maxAlertThresholds`.
    func alertThresholds(_ value: TOMLValueConvertible, at key: String) throws(ConfigFileError) -> [Double] {
        guard let array = value.array else {
            throw error(key, "expected an array of numbers such as [0.95, 0.99], got \(typeName(value))")
        }
        guard array.count <= ConfigFile.maxAlertThresholds else {
            throw error(key, "at most \(ConfigFile.maxAlertThresholds) thresholds, got \(array.count)")
        }
        var thresholds = [Double]()
        for i in 0..<array.count {
            let element = array[i]
            guard let t = element.double ?? element.int.map(Double.init) else {
                throw error(key, "element \(i + 1) is \(typeName(element)), not a number")
            }
            guard t > 0 && t < 1 else {
                throw error(key, "element \(i + 1) is \(t); a threshold on the reference scale is in (0, 1)")
            }
            if let last = thresholds.last, t <= last {
                throw error(key, "element \(i + 1) (\(t)) is not above element \(i) (\(last)); thresholds must ascend")
            }
            thresholds.append(t)
        }
        return thresholds
    }

    func checkKeys(_ table: TOMLTable, at path: String, allowed: [String]) throws(ConfigFileError) {
        // In source order, so the first unknown key written is the one named.
        let unknown = table.keys.filter { !allowed.contains($0) }
            .sorted { (lines.line(of: join(path, $0)) ?? 0, $0) < (lines.line(of: join(path, $1)) ?? 0, $1) }
        if let key = unknown.first {
            let near = allowed.first { $0.lowercased() == key.lowercased().replacingOccurrences(of: "-", with: "_") }
            throw error(join(path, key), "unknown key" + (near.map { "; did you mean '\($0)'?" }
                ?? "; \(path.isEmpty ? "the file's" : "this table's") keys are \(allowed.joined(separator: ", "))"))
        }
    }

    func string(_ table: TOMLTable, _ key: String, at path: String) throws(ConfigFileError) -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else { throw error(join(path, key), "expected a string, got \(typeName(value))") }
        // Every string mused reads is a name, a path, an address or a keyword.
        if let control = string.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw error(join(path, key), ConfigSourceCheck.controlInString(control.value))
        }
        return string
    }

    func bool(_ table: TOMLTable, _ key: String, at path: String) throws(ConfigFileError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else { throw error(join(path, key), "expected true or false, got \(typeName(value))") }
        return bool
    }

    func int(_ table: TOMLTable, _ key: String, at path: String, in range: ClosedRange<Int>) throws(ConfigFileError) -> Int? {
        guard let value = table[key] else { return nil }
        guard let int = value.int else { throw error(join(path, key), "expected an integer, got \(typeName(value))") }
        guard range.contains(int) else {
            throw error(join(path, key), "must be \(range.lowerBound)...\(range.upperBound), got \(int)")
        }
        return int
    }

    /// A number; an integer is taken as one too (`max_psi = 1`).
    func double(_ table: TOMLTable, _ key: String, at path: String, in range: ClosedRange<Double>) throws(ConfigFileError) -> Double? {
        guard let value = table[key] else { return nil }
        guard let number = value.double ?? value.int.map(Double.init) else {
            throw error(join(path, key), "expected a number, got \(typeName(value))")
        }
        guard range.contains(number) else {
            throw error(join(path, key), "must be \(range.lowerBound)...\(range.upperBound), got \(number)")
        }
        return number
    }

    func checkAbsolute(_ path: String, _ key: String) throws(ConfigFileError) {
        guard path.hasPrefix("/"), path.utf8.count < Int(PATH_MAX), !path.utf8.contains(0) else {
            throw error(key, "must be an absolute path, got \"\(path)\"")
        }
    }

    func checkGroup(_ group: String, _ key: String) throws(ConfigFileError) {
        do { _ = try resolveGroup(group) } catch { throw self.error(key, "\(error)") }
    }

    func typeName(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .date, .time, .dateTime: "a date or time"
        }
    }
}
