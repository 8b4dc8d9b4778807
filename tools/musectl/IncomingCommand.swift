import ArgumentParser
import Foundation
import MuseControl

/// What mused-swap.service runs when a snapshot lands in the incoming
/// directory: each file is swapped in (gated if asked), then moved to
/// `applied/` or to `refused/` beside a `.reason` file, so the directory
/// empties and the path unit does not fire again for the same file.
struct SwapIncomingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap-incoming",
        abstract: "Swap in every snapshot waiting in a directory, oldest first, and file each away.",
        discussion: "Considers regular files named *.snapshot directly in DIRECTORY (write under another name "
            + "and rename, so a half-copied file is never taken). A swapped file moves to DIRECTORY/applied/, a "
            + "refused one to DIRECTORY/refused/ with NAME.reason beside it; the serving generation is untouched "
            + "by a refusal. Exits non-zero if any file was refused or mused could not be reached (files then "
            + "stay where they are).")
    @OptionGroup var options: DaemonOptions
    @Argument(help: "The incoming directory.") var directory: String
    @Flag(name: .long, help: "Refuse promotions the shadowed traffic does not support (as `swap --gate`).")
    var gate = false
    @Flag(name: .customLong("allow-schema-change"), help: "Accept intents whose feature names changed.")
    var allowSchemaChange = false

    /// What `--json` prints: each file taken, and where it went.
    struct Result: Encodable {
        struct File: Encodable {
            let file: String
            let ok: Bool
            let generation: UInt64?
            let error: String?
            let movedTo: String
        }
        let ok: Bool
        let error: String?
        let files: [File]
    }

    func run() throws {
        let base = URL(filePath: directory).standardizedFileURL
        let manager = FileManager.default
        let names = try manager.contentsOfDirectory(atPath: base.path).filter { $0.hasSuffix(".snapshot") }
        var files: [(url: URL, modified: Date)] = []
        for name in names {
            let url = base.appending(path: name)
            let attributes = try manager.attributesOfItem(atPath: url.path)
            guard attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            files.append((url, attributes[.modificationDate] as? Date ?? .distantPast))
        }
        files.sort { ($0.modified, $0.url.lastPathComponent) < ($1.modified, $1.url.lastPathComponent) }
        if files.isEmpty {
            if options.json { try JSONOutput.print(Result(ok: true, error: nil, files: [])) } else { print("nothing to swap in \(base.path)") }
            return
        }

        var refusals = 0
        var results: [Result.File] = []
        for file in files {
            let request = ControlRequest(command: .swap, path: file.url.path, allowSchemaChange: allowSchemaChange, gate: gate)
            let response: ControlResponse
            do {
                response = try ControlClient.send(request, to: ControlSocket.path(runtimeDirectory: options.runtimeDirectory))
            } catch {
                throw DaemonUnreachable(reason: "\(error) (\(file.url.lastPathComponent) and any later files stay in \(base.path))")
            }
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            let name = file.url.deletingPathExtension().lastPathComponent + "-" + stamp + ".snapshot"
            let folder = base.appending(path: response.ok ? "applied" : "refused")
            try manager.createDirectory(at: folder, withIntermediateDirectories: true)
            try manager.moveItem(at: file.url, to: folder.appending(path: name))
            results.append(Result.File(file: file.url.lastPathComponent, ok: response.ok,
                                       generation: response.ok ? response.status?.serving?.id : nil,
                                       error: response.ok ? nil : response.error ?? "refused",
                                       movedTo: folder.appending(path: name).path))
            if response.ok {
                if !options.json { print("\(file.url.lastPathComponent): serving generation \(response.status?.serving?.id ?? 0)") }
            } else {
                refusals += 1
                let reason = (response.error ?? "refused") + "\n" + (response.gate.map(describeShadows) ?? "")
                try reason.write(to: folder.appending(path: name + ".reason"), atomically: true, encoding: .utf8)
                if !options.json {
                    FileHandle.standardError.write(Data("musectl: \(file.url.lastPathComponent) refused: \(response.error ?? "refused")\n".utf8))
                }
            }
        }
        if options.json {
            try JSONOutput.print(Result(ok: refusals == 0, error: refusals == 0 ? nil : "\(refusals) of \(files.count) snapshot(s) refused",
                                        files: results))
        }
        if refusals > 0 { throw ExitCode(1) }
    }
}
