import ArgumentParser
import Foundation
import MuseControl
import MuseScoring
import MuseSnapshot

/// `musectl sketch export`: this host's live score sketches, for fitting
/// level-2 maps offline (`transform fit --sketches`) from the sketches of
/// one host or many.
struct SketchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sketch", abstract: "Work with mused's live score sketches.",
        subcommands: [Export.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write this host's score sketches (per tenant and predictor, merged over the workers) to a file.",
            discussion: "The file format is in docs/sketch-format.md; 'musectl transform fit --sketches' fits maps from one or more.")

        @OptionGroup var options: DaemonOptions
        @Option(name: .shortAndLong, help: "Sketch file to write.")
        var output: String

        struct Result: Encodable {
            struct Entry: Encodable { let tenant: String; let predictor: String; let fingerprint: String; let events: UInt64 }
            let ok = true
            let host: String
            let output: String
            let entries: [Entry]
        }

        func run() throws {
            let response: ControlResponse
            do {
                response = try ControlClient.send(ControlRequest(command: .sketches),
                                                  to: ControlSocket.path(runtimeDirectory: options.runtimeDirectory),
                                                  answerLimit: 1 << 28)
            } catch {
                throw DaemonUnreachable(reason: "\(error)")
            }
            guard response.ok else { throw TransformError(response.error ?? "mused refused") }
            guard let text = response.sketches, let data = Data(base64Encoded: text) else {
                throw TransformError("mused's answer holds no sketches (is it older than this musectl?)")
            }
            let bytes = [UInt8](data)
            // Checked as any reader will check it before it is written.
            let file = try SketchFile(decoding: bytes)
            try data.write(to: URL(fileURLWithPath: output), options: .atomic)
            let entries = file.entries.map {
                Result.Entry(tenant: $0.tenant, predictor: $0.predictor, fingerprint: String($0.fingerprint, radix: 16),
                             events: $0.sketch.count)
            }
            if options.json {
                try JSONOutput.print(Result(host: file.host, output: output, entries: entries))
            } else {
                print("\(output): \(entries.count) sketch(es) from \(file.host)")
                for e in entries { print("  \(e.tenant) \(e.predictor) (level 1 \(e.fingerprint)): \(e.events) events") }
            }
        }
    }
}

