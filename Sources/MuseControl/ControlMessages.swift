/// The control socket's messages: one JSON request line from musectl, one
/// JSON response line from mused. Shared by both so they cannot drift.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable {
        case status, swap, rollback
    }
    public var command: Command
    /// For `swap`: the snapshot file (absolute path, read by mused).
    public var path: String?
    /// For `swap`: accept intents whose feature schema changed.
    public var allowSchemaChange: Bool?

    public init(command: Command, path: String? = nil, allowSchemaChange: Bool? = nil) {
        self.command = command
        self.path = path
        self.allowSchemaChange = allowSchemaChange
    }
}

public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    /// Why a command was refused, in words an operator can act on.
    public var error: String?
    /// For `swap` and `rollback`: each step with its duration.
    public var steps: [Step]?
    public var status: DaemonStatus?

    public struct Step: Codable, Sendable, Equatable {
        public var name: String
        public var milliseconds: Double
        public init(name: String, milliseconds: Double) {
            self.name = name
            self.milliseconds = milliseconds
        }
    }

    public init(ok: Bool, error: String? = nil, steps: [Step]? = nil, status: DaemonStatus? = nil) {
        self.ok = ok
        self.error = error
        self.steps = steps
        self.status = status
    }
}

public struct DaemonStatus: Codable, Sendable, Equatable {
    public struct GenerationInfo: Codable, Sendable, Equatable {
        public var id: UInt64
        public var origin: String
        public var intents: [IntentInfo]
        public var predictors: [String]
        public init(id: UInt64, origin: String, intents: [IntentInfo], predictors: [String]) {
            self.id = id
            self.origin = origin
            self.intents = intents
            self.predictors = predictors
        }
    }
    public struct IntentInfo: Codable, Sendable, Equatable {
        public var name: String
        public var id: UInt32
        public var features: Int
        public var schemaHash: String
        public init(name: String, id: UInt32, features: Int, schemaHash: String) {
            self.name = name
            self.id = id
            self.features = features
            self.schemaHash = schemaHash
        }
    }
    public var pid: Int32
    public var runtimeDirectory: String
    public var tenants: [String]
    public var workers: Int
    public var serving: GenerationInfo?
    public var previous: GenerationInfo?

    public init(pid: Int32, runtimeDirectory: String, tenants: [String], workers: Int,
                serving: GenerationInfo?, previous: GenerationInfo?) {
        self.pid = pid
        self.runtimeDirectory = runtimeDirectory
        self.tenants = tenants
        self.workers = workers
        self.serving = serving
        self.previous = previous
    }
}

/// Where mused listens: inside its runtime directory, which only its user can write.
public enum ControlSocket {
    public static let fileName = "control.sock"
    public static func path(runtimeDirectory: String) -> String { "\(runtimeDirectory)/\(fileName)" }
}
