import ArgumentParser
import Foundation
import MuseControl

/// `musectl promote NAME`: the shadow NAME answers the routes it shadows,
/// its maps fitted by mused from the live traffic it shadowed.
struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Make the shadow predictor NAME answer the routes it shadows, with maps fitted from its sketches.",
        discussion: "mused fits NAME's level-2 map for each tenant of those routes from NAME's score sketch of it "
            + "(this host's live sketches, or with --sketches the files merged: this host's live ones are then not "
            + "added, so a file may be this host's own export), onto the reference the routes' maps use; a tenant "
            + "with fewer than --min-samples events gets NAME's pooled map, fitted from all those tenants. The old "
            + "primaries stay as shadows. The gate refuses unless, for every tenant and each of its alert_thresholds, "
            + "the sketch's events estimate the alert rate p there within promotion_gate.max_relative_error "
            + "(sqrt(p(1-p)/n)/p), naming tenant, threshold and figures; --allow-thin lets a tenant through. "
            + "Then the generation is verified and published as a swap, and kept in the state directory; -o writes "
            + "the same bytes to FILE, for rolling out to other hosts unchanged. A refusal changes nothing.")
    @OptionGroup var options: DaemonOptions
    @Argument(help: "The shadow predictor to promote (as 'musectl candidate add --name' named it).") var name: String
    @Option(name: .customLong("sketches"), parsing: .upToNextOption,
            help: "Sketch files from 'musectl sketch export' (read by mused) to fit from, merged, instead of this host's live sketches.")
    var sketchFiles: [String] = []
    @Option(name: .customLong("allow-thin"), help: "Promote even if this tenant's sketch is too thin for its thresholds (repeatable).")
    var allowThin: [String] = []
    @Option(help: "Fewest events a tenant needs for its own map; below, it uses the pooled map.")
    var minSamples: Int = 1000
    @Option(help: "Knots per map.")
    var knots: Int?
    @Option(name: .shortAndLong, help: "Also write the published snapshot to this file (with your permissions).")
    var output: String?

    func run() throws {
        let spec = PromoteSpec(name: name, sketchFiles: sketchFiles.isEmpty ? nil : sketchFiles.map { URL(filePath: $0).standardizedFileURL.path },
                               allowThin: allowThin.isEmpty ? nil : allowThin, minimumSamples: minSamples, knots: knots,
                               returnSnapshot: output == nil ? nil : true)
        var response: ControlResponse
        do {
            response = try ControlClient.send(ControlRequest(command: .promote, promote: spec),
                                              to: ControlSocket.path(runtimeDirectory: options.runtimeDirectory),
                                              answerLimit: PromoteSpec.maximumReturnedSnapshot / 3 * 4 + (1 << 20))
        } catch {
            throw DaemonUnreachable(reason: "\(error)")
        }
        var written: String?
        if response.ok, let output {
            guard let text = response.promotion?.snapshotBytes, let bytes = Data(base64Encoded: text) else {
                throw TransformError("mused published the promotion but its answer holds no snapshot to write to \(output) "
                                     + "(is it older than this musectl?)")
            }
            do { try bytes.write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                // Published already: say so, and where the same bytes are.
                throw TransformError("mused published generation \(response.promotion?.generation.map(String.init) ?? "?"), "
                    + "but \(output) could not be written (\(error.localizedDescription)); the same bytes are mused's "
                    + (response.promotion?.snapshot ?? "kept serving snapshot"))
            }
            written = output
        }
        response.promotion?.snapshotBytes = nil
        if options.json {
            try JSONOutput.print(response)
        } else {
            print(describe(response, written: written), terminator: "")
        }
        if !response.ok {
            if !options.json { FileHandle.standardError.write(Data("musectl: \(response.error ?? "refused")\n".utf8)) }
            throw ExitCode(1)
        }
    }

    func describe(_ response: ControlResponse, written: String?) -> String {
        guard let p = response.promotion else { return "" }
        var text = ""
        if let g = p.generation {
            text += "published generation \(g): \(p.name) answers \(p.routes.joined(separator: ", "))\n"
        }
        text += "maps fitted from \(p.sketches); the gate allows a relative error of \(percent(p.maximumRelativeError))\n"
        for t in p.tenants {
            text += "tenant \(t.tenant): \(t.events) events, \(t.map)\n"
            if t.thresholds.isEmpty { text += "  no alert thresholds configured\n" }
            for th in t.thresholds {
                text += "  threshold \(th.threshold): alert rate \(percent(th.expectedRate)) ± "
                    + (th.relativeError.map { percent($0) } ?? "∞") + " (relative) — \(th.verdict)\n"
            }
        }
        if let s = p.snapshot, p.generation != nil { text += "kept as \(s)\n" }
        if let written { text += "written to \(written)\n" }
        return text + describeSteps(response)
    }

    func percent(_ x: Double) -> String { String(format: "%.3g%%", x * 100) }
}
