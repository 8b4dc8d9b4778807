import ArgumentParser
import Foundation
import MuseControl

/// Options every command that talks to mused shares.
struct DaemonOptions: ParsableArguments {
    @Option(name: .customLong("runtime-dir"), help: "mused's runtime directory (its control socket is there).")
    var runtimeDirectory = "/run/muse"

    @Flag(name: .long, help: "Print JSON for machines instead of text for humans.")
    var json = false

    /// Sends `request`; prints the answer; exits non-zero if mused refused.
    func send(_ request: ControlRequest, describe: (ControlResponse) -> String) throws {
        let response: ControlResponse
        do {
            response = try ControlClient.send(request, to: ControlSocket.path(runtimeDirectory: runtimeDirectory))
        } catch {
            throw DaemonUnreachable(reason: "\(error)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(response), as: UTF8.self))
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
