import ArgumentParser
import Foundation
import MuseControl

/// Options every command that talks to mused shares.
struct DaemonOptions: ParsableArguments {
    @Option(name: .customLong("runtime-dir"),
            help: "mused's runtime directory (its control socket is there); default $MUSE_RUNTIME_DIR, else /run/muse.")
    var runtimeDirectory = ProcessInfo.processInfo.environment["MUSE_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/run/muse"

    @OptionGroup var format: JSONOption
    var json: Bool { format.json }

    /// Sends `request`; prints the answer; exits non-zero if mused refused.
    func send(_ request: ControlRequest, answerLimit: Int = 1 << 20, describe: (ControlResponse) -> String) throws {
        let response: ControlResponse
        do {
            response = try ControlClient.send(request, to: ControlSocket.path(runtimeDirectory: runtimeDirectory),
                                              answerLimit: answerLimit)
        } catch {
            throw DaemonUnreachable(reason: "\(error)")
        }
        if json {
            try JSONOutput.print(response)
        } else {
            print(describe(response), terminator: "")
        }
        if !response.ok {
            if !json { FileHandle.standardError.write(Data("musectl: \(response.error ?? "refused")\n".utf8)) }
            throw ExitCode(1)
        }
    }
}

func describeSteps(_ response: ControlResponse) -> String {
    (response.steps ?? []).map {
        $0.name.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: " %9.3f ms\n", $0.milliseconds)
    }.joined()
}

func describeStatus(_ status: DaemonStatus?) -> String {
    guard let status else { return "" }
    var text = "mused pid \(status.pid), runtime directory \(status.runtimeDirectory), \(status.workers) worker(s)\n"
    text += "tenants: \(status.tenants.joined(separator: ", "))\n"
    for (label, generation) in [("serving", status.serving), ("previous", status.previous)] {
        guard let generation else { text += "\(label): none\n"; continue }
        text += "\(label): generation \(generation.id) (\(generation.origin)), predictors: "
            + "\(generation.predictors.joined(separator: ", "))\n"
        for intent in generation.intents {
            text += "  intent \(intent.name) id \(intent.id), \(intent.features) features, schema \(intent.schemaHash)\n"
        }
    }
    if !status.shadows.isEmpty { text += "shadows:\n" + describeShadows(status.shadows) }
    return text
}

func describeShadows(_ shadows: [ShadowInfo]) -> String {
    shadows.map { s in
        let psi = s.psi.map { String(format: "%.4f", $0) } ?? "-"
        let mean = s.mean.map { String(format: "%.4f", $0) } ?? "-"
        let shares = s.decileShares.map { String(format: "%.3f", $0) }.joined(separator: " ")
        return "  \(s.tenant) \(s.predictor): \(s.events) events, mean \(mean), PSI \(psi), deciles [\(shares)]"
            + (s.verdict.map { " — \($0)" } ?? "") + "\n"
    }.joined()
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the serving and previous generations, tenants and intents.")
    @OptionGroup var options: DaemonOptions
    func run() throws {
        try options.send(ControlRequest(command: .status)) { describeStatus($0.status) }
    }
}

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Serve the previous generation again (it stays resident).")
    @OptionGroup var options: DaemonOptions
    func run() throws {
        try options.send(ControlRequest(command: .rollback)) {
            describeSteps($0) + ($0.ok ? "serving generation \($0.status?.serving?.id ?? 0)\n" : "")
        }
    }
}

struct SwapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap",
        abstract: "Load, verify and publish the generation in a snapshot file.",
        discussion: "Prints each step (read, decode, verify, publish) with its duration; exits non-zero, "
            + "naming the reason, when mused refuses the snapshot (the serving generation is then untouched).")
    @OptionGroup var options: DaemonOptions
    @Argument(help: "The snapshot file.") var file: String
    @Flag(name: .customLong("allow-schema-change"), help: "Accept intents whose feature names changed.")
    var allowSchemaChange = false
    @Flag(name: .long, help: ArgumentHelp(
        "Refuse unless each tenant's new primary predictor, shadowed on live traffic, stays near the reference.",
        discussion: "PSI of its transformed scores over the reference deciles, within mused's configured bound."))
    var gate = false
    func run() throws {
        let path = URL(filePath: file).standardizedFileURL.path
        try options.send(ControlRequest(command: .swap, path: path, allowSchemaChange: allowSchemaChange, gate: gate)) {
            ($0.gate.map { "gate:\n" + describeShadows($0) } ?? "") + describeSteps($0)
                + ($0.ok ? "serving generation \($0.status?.serving?.id ?? 0)\n" : "")
        }
    }
}

struct DaemonUnreachable: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

func describeTenants(_ tenants: [TenantInfo]?) -> String {
    guard let tenants else { return "" }
    var text = "tenant               state    channels claimed in-flight ring  features weight rate limit\n"
    for t in tenants {
        let limit = t.rateLimit.map { "\($0)/s burst \(t.burst ?? 0)" } ?? "unlimited"
        text += t.name.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
            + t.state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
            + String(format: " %8d %7d %9llu %5d %8d %6d ", t.channels, t.claimedChannels, t.inFlight, t.ringDepth,
                     t.maxFeatures, t.weight) + limit + "\n"
    }
    return text
}

func describeRetirement(_ retired: RetirementReport) -> String {
    "drained \(retired.tenant): \(retired.answered) events answered"
        + (retired.left > 0 ? ", \(retired.left) left unanswered (its clients did not read their completions)" : "")
        + String(format: " in %.1f ms\n", retired.milliseconds)
}

struct TenantsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenants", abstract: "List the tenants mused holds: state, channels in use, events in flight, limits.")
    @OptionGroup var options: DaemonOptions
    func run() throws {
        try options.send(ControlRequest(command: .tenants)) { describeTenants($0.tenants) }
    }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Apply mused's configuration file again without a restart (as SIGHUP does).",
        discussion: "Adds tenants, removes tenants (their in-flight events are answered first, then their segment "
            + "file is deleted), serves drained tenants again, and applies new weights and rate limits. A change "
            + "that needs a restart (a segment's layout or group, workers, directories, addresses) refuses the "
            + "whole reload, naming each, and nothing is applied.")
    @OptionGroup var options: DaemonOptions
    func run() throws {
        try options.send(ControlRequest(command: .reload)) { response in
            guard let r = response.reload else { return "" }
            var text = ""
            if !r.added.isEmpty { text += "added: \(r.added.joined(separator: ", "))\n" }
            for retired in r.removed { text += "removed: " + describeRetirement(retired) }
            if !r.resumed.isEmpty { text += "serving again: \(r.resumed.joined(separator: ", "))\n" }
            if !r.updated.isEmpty { text += "updated: \(r.updated.joined(separator: ", "))\n" }
            for failure in r.failed { text += "not added: \(failure)\n" }
            if text.isEmpty { text = "no change\n" }
            return text + describeTenants(response.tenants)
        }
    }
}

struct DrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Answer a tenant's in-flight events, then stop serving it until the next reload.",
        discussion: "Its segment shows mused stopped, so clients that check stop submitting; what they submit "
            + "afterwards waits in the rings. `musectl reload` serves it again if the configuration names it.")
    @OptionGroup var options: DaemonOptions
    @Argument(help: "The tenant.") var tenant: String
    func run() throws {
        try options.send(ControlRequest(command: .retire, tenant: tenant)) { response in
            response.retirement.map(describeRetirement) ?? ""
        }
    }
}
