import Foundation
import MuseCore

/// The control socket's messages: one JSON request line from musectl, one
/// JSON response line from mused. Shared by both so they cannot drift.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable, CaseIterable {
        case status, swap, rollback, tenants, reload, candidate, sketches, promote
        /// Retires a tenant; "drain" on the wire, as musectl has always sent it.
        case retire = "drain"
    }
    public var command: Command
    /// For `swap`: the snapshot file (absolute path, read by mused).
    public var path: String?
    /// For `swap`: accept intents whose feature schema changed.
    public var allowSchemaChange: Bool?
    /// For `swap`: refuse unless the candidate's shadow record passes the gate.
    public var gate: Bool?
    /// For `retire`: the tenant.
    public var tenant: String?
    /// For `candidate`: the model to add as a shadow, and where.
    public var candidate: CandidateSpec?
    /// For `promote`: the shadow to promote, and from which sketches.
    public var promote: PromoteSpec?

    public init(command: Command, path: String? = nil, allowSchemaChange: Bool? = nil, gate: Bool? = nil,
                tenant: String? = nil, candidate: CandidateSpec? = nil, promote: PromoteSpec? = nil) {
        self.promote = promote
        self.command = command
        self.path = path
        self.allowSchemaChange = allowSchemaChange
        self.gate = gate
        self.tenant = tenant
        self.candidate = candidate
    }
}

/// `musectl candidate add`: a model file mused reads (absolute path), the
/// name its model and predictor take, level 1 as a manifest declares it, and
/// which routes to shadow (default: every route whose intent the model's
/// features match by name).
public struct CandidateSpec: Codable, Sendable, Equatable {
    public var modelFile: String
    public var name: String
    /// Only routes of this intent.
    public var intent: String?
    /// Only routes of these tenants.
    public var tenants: [String]?
    /// The model's features renamed, in its own order (as a manifest's `features`).
    public var features: [String]?
    public var negativeSamplingRate: Double?
    public var trainingPrior: Double?
    public var servingPrior: Double?

    public init(modelFile: String, name: String, intent: String? = nil, tenants: [String]? = nil, features: [String]? = nil,
                negativeSamplingRate: Double? = nil, trainingPrior: Double? = nil, servingPrior: Double? = nil) {
        self.modelFile = modelFile
        self.name = name
        self.intent = intent
        self.tenants = tenants
        self.features = features
        self.negativeSamplingRate = negativeSamplingRate
        self.trainingPrior = trainingPrior
        self.servingPrior = servingPrior
    }
}

/// What `candidate` published.
public struct CandidateReport: Codable, Sendable, Equatable {
    /// The new generation's id.
    public var generation: UInt64
    /// The model's and the shadow predictor's name.
    public var name: String
    /// The routes it now shadows, as "tenant/intent".
    public var shadowed: [String]
    /// Routes it was not added to, each with the reason.
    public var leftAlone: [String]
    /// The snapshot file mused keeps of the new generation (nil: no state directory).
    public var snapshot: String?

    public init(generation: UInt64, name: String, shadowed: [String], leftAlone: [String], snapshot: String?) {
        self.generation = generation
        self.name = name
        self.shadowed = shadowed
        self.leftAlone = leftAlone
        self.snapshot = snapshot
    }
}

public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    /// Why a command was refused, in words an operator can act on.
    public var error: String?
    /// For `swap` and `rollback`: each step with its duration.
    public var steps: [Step]?
    public var status: DaemonStatus?
    /// For a gated `swap`: the figures the gate judged, printed either way.
    public var gate: [ShadowInfo]?
    /// For `tenants` (and after `reload` and `retire`): every tenant mused holds.
    public var tenants: [TenantInfo]?
    /// For `reload`: what changed.
    public var reload: ReloadReport?
    /// For `retire`: what the retirement answered ("drain" on the wire).
    public var retirement: RetirementReport?
    /// For `candidate`: what was published.
    public var candidate: CandidateReport?
    /// For `sketches`: this host's live score sketches, merged over the
    /// workers, as a sketch file (docs/sketch-format.md), base64.
    public var sketches: String?
    /// For `promote`: what was fitted, judged and published (also when the
    /// gate refused: the figures it judged).
    public var promotion: PromoteReport?

    public struct Step: Codable, Sendable, Equatable {
        public var name: String
        public var milliseconds: Double
        public init(name: String, milliseconds: Double) {
            self.name = name
            self.milliseconds = milliseconds
        }
    }

    public init(ok: Bool, error: String? = nil, steps: [Step]? = nil, status: DaemonStatus? = nil,
                gate: [ShadowInfo]? = nil, tenants: [TenantInfo]? = nil, reload: ReloadReport? = nil,
                retirement: RetirementReport? = nil, candidate: CandidateReport? = nil,
                sketches: String? = nil, promotion: PromoteReport? = nil) {
        self.promotion = promotion
        self.sketches = sketches
        self.candidate = candidate
        self.ok = ok
        self.error = error
        self.steps = steps
        self.status = status
        self.gate = gate
        self.tenants = tenants
        self.reload = reload
        self.retirement = retirement
    }

    private enum CodingKeys: String, CodingKey {
        case ok, error, steps, status, gate, tenants, reload, candidate, sketches, promotion
        case retirement = "drain"
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
        /// The daemon's side: an intent as it serves it, by its typed id.
        public init(name: String, id: IntentID, features: Int, schemaHash: String) {
            self.init(name: name, id: id.rawValue, features: features, schemaHash: schemaHash)
        }
    }
    public var pid: Int32
    public var runtimeDirectory: String
    public var tenants: [String]
    public var workers: Int
    public var serving: GenerationInfo?
    public var previous: GenerationInfo?
    /// The serving generation's shadow predictors, per tenant.
    public var shadows: [ShadowInfo]

    public init(pid: Int32, runtimeDirectory: String, tenants: [String], workers: Int,
                serving: GenerationInfo?, previous: GenerationInfo?, shadows: [ShadowInfo] = []) {
        self.shadows = shadows
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

/// A shadow predictor's record for one tenant: its transformed scores against
/// the reference distribution's deciles (each should hold a tenth).
public struct ShadowInfo: Codable, Sendable, Equatable {
    public var tenant: String
    public var predictor: String
    public var events: UInt64
    public var mean: Double?
    /// Population stability index over the reference deciles (nil: no events).
    public var psi: Double?
    public var decileShares: [Double]
    /// For the gate: whether this record passes it, and why not.
    public var verdict: String?

    public init(tenant: String, predictor: String, events: UInt64, mean: Double?, psi: Double?,
                decileShares: [Double], verdict: String? = nil) {
        self.tenant = tenant
        self.predictor = predictor
        self.events = events
        self.mean = mean
        self.psi = psi
        self.decileShares = decileShares
        self.verdict = verdict
    }
}

/// One tenant as mused holds it.
public struct TenantInfo: Codable, Sendable, Equatable {
    public var name: String
    public var state: TenantState
    public var path: String
    public var group: String?
    public var channels: Int
    public var claimedChannels: Int
    public var ringDepth: Int
    public var maxFeatures: Int
    /// Events submitted and not yet answered, over all channels.
    public var inFlight: UInt64
    public var weight: Int
    /// Events per second and burst; nil: unlimited.
    public var rateLimit: Int?
    public var burst: Int?

    public init(name: String, state: TenantState, path: String, group: String?, channels: Int, claimedChannels: Int,
                ringDepth: Int, maxFeatures: Int, inFlight: UInt64, weight: Int, rateLimit: Int?, burst: Int?) {
        self.name = name
        self.state = state
        self.path = path
        self.group = group
        self.channels = channels
        self.claimedChannels = claimedChannels
        self.ringDepth = ringDepth
        self.maxFeatures = maxFeatures
        self.inFlight = inFlight
        self.weight = weight
        self.rateLimit = rateLimit
        self.burst = burst
    }
}

/// What retiring a tenant did: events answered, events left when its
/// deadline passed (a client that stopped reading its completions), and how
/// long it took.
public struct RetirementReport: Codable, Sendable, Equatable {
    public var tenant: String
    public var answered: UInt64
    public var left: UInt64
    public var milliseconds: Double

    public init(tenant: String, answered: UInt64, left: UInt64, milliseconds: Double) {
        self.tenant = tenant
        self.answered = answered
        self.left = left
        self.milliseconds = milliseconds
    }
}

/// What a reload changed. Nothing is applied when it is refused.
public struct ReloadReport: Codable, Sendable, Equatable {
    public var added: [String] = []
    /// Removed tenants, each retired first.
    public var removed: [RetirementReport] = []
    /// Retired tenants served again.
    public var resumed: [String] = []
    /// Tenants whose weight or rate limit changed.
    public var updated: [String] = []
    /// Tenants that could not be added, with the reason.
    public var failed: [String] = []

    public init() {}
}

// MARK: - Reading messages

/// Why a control message could not be read, in words an operator can act
/// on: which key is missing or of the wrong type, not the decoder's dump.
public struct ControlMessageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ControlRequest {
    /// Reads one request line from `connection` and decodes it; the whole
    /// line must arrive by `deadline` (CLOCK_MONOTONIC nanoseconds).
    public static func read(from connection: Int32, deadline: UInt64? = nil) throws(ControlMessageError) -> ControlRequest {
        let line: Data
        do { line = try readLine(connection, deadline: deadline) } catch {
            switch error {
            case .closed: throw ControlMessageError("no request arrived before the connection closed")
            case .timedOut: throw ControlMessageError("no complete request line arrived in time")
            case .tooLong(let limit): throw ControlMessageError("the request is longer than \(limit) bytes")
            default: throw ControlMessageError("\(error)")
            }
        }
        return try decode(line)
    }

    /// Decodes a request line.
    public static func decode(_ line: Data) throws(ControlMessageError) -> ControlRequest {
        let object = try jsonObject(line)
        // The command first: an unknown one most likely means a newer musectl.
        guard let value = object["command"] else { throw ControlMessageError("'command' is missing") }
        guard let name = value as? String else { throw ControlMessageError("'command' must be a string") }
        guard Command(rawValue: name) != nil else {
            let known = Command.allCases.map(\.rawValue).joined(separator: ", ")
            throw ControlMessageError("unknown command '\(name)' (this mused knows \(known))")
        }
        return try decodeMessage(ControlRequest.self, from: line)
    }
}

extension ControlResponse {
    /// Decodes a response line.
    public static func decode(_ line: Data) throws(ControlMessageError) -> ControlResponse {
        _ = try jsonObject(line)
        return try decodeMessage(ControlResponse.self, from: line)
    }
}

/// Every message is one JSON object on one line.
private func jsonObject(_ line: Data) throws(ControlMessageError) -> [String: Any] {
    guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
        throw ControlMessageError("not a JSON object (one JSON object per line is expected)")
    }
    return object
}

private func decodeMessage<T: Decodable>(_ type: T.Type, from line: Data) throws(ControlMessageError) -> T {
    do {
        return try JSONDecoder().decode(type, from: line)
    } catch let error as DecodingError {
        throw ControlMessageError(describe(error))
    } catch {
        throw ControlMessageError("\(error)")
    }
}

/// A DecodingError as a sentence: the key's path and what was wrong with it.
private func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
        keys.enumerated().map { i, key in
            key.intValue.map { "[\($0)]" } ?? (i == 0 ? key.stringValue : ".\(key.stringValue)")
        }.joined()
    }
    switch error {
    case .keyNotFound(let key, let context): return "'\(path(context.codingPath + [key]))' is missing"
    case .typeMismatch(let type, let context): return "'\(path(context.codingPath))' must be \(kind(type))"
    case .valueNotFound(let type, let context): return "'\(path(context.codingPath))' must be \(kind(type)), not null"
    case .dataCorrupted(let context):
        return context.codingPath.isEmpty ? "not valid JSON" : "'\(path(context.codingPath))' holds a value that is not understood"
    @unknown default: return "not understood"
    }
}

/// What a JSON value of `type` looks like, in JSON's terms.
private func kind(_ type: Any.Type) -> String {
    if type == String.self { return "a string" }
    if type == Bool.self { return "true or false" }
    let numbers: [Any.Type] = [Int.self, Int32.self, Int64.self, UInt32.self, UInt64.self, Double.self, Float.self]
    if numbers.contains(where: { $0 == type }) { return "a number" }
    if String(describing: type).hasPrefix("Array<") { return "an array" }
    return "an object"
}
