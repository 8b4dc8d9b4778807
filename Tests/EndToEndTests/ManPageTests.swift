import Foundation
import Testing

/// docs/man, what tools/install installs, is generated from the commands'
/// help (tools/generate-man.sh): an option the help lists and the page lacks
/// means the pages were not regenerated.
@Suite struct ManPageTests {
    /// Every `--option` a help text names.
    static func options(_ help: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: "--[a-z][a-z0-9-]*")
        let range = NSRange(help.startIndex..., in: help)
        return Set(pattern.matches(in: help, range: range).compactMap { Range($0.range, in: help).map { String(help[$0]) } })
    }

    @Test func thePagesListEveryOptionOfTheCommands() throws {
        let subcommands: [[String]] = [[], ["predict"], ["transform", "fit"], ["transform", "apply"], ["snapshot", "build"],
                                       ["snapshot", "inspect"], ["snapshot", "verify"], ["status"], ["swap"], ["rollback"],
                                       ["tenants"], ["reload"], ["drain"], ["swap-incoming"],
                                       ["candidate", "add"], ["sketch", "export"], ["promote"]]
        let pages: [(tool: String, path: String, commands: [[String]])] = [
            ("mused", Harness.mused, [[]]), ("musectl", ControlSocketTests.musectl, subcommands)]
        for (tool, path, commands) in pages {
            let page = try String(contentsOf: Harness.packageRoot.appending(path: "docs/man/\(tool).1"), encoding: .utf8)
            for command in commands {
                let help = Harness.run(path, command + ["--help"])
                try #require(help.status == 0, "\(tool) \(command) --help: \(help.output)")
                for option in Self.options(help.output) {
                    // mdoc writes --name as "Fl -name".
                    #expect(page.contains("Fl " + option.dropFirst()) || page.contains(", " + option.dropFirst()),
                            "docs/man/\(tool).1 lacks \(option) of \(tool) \(command.joined(separator: " ")): run tools/generate-man.sh")
                }
            }
            for subcommand in Set(commands.compactMap(\.last)) {
                #expect(page.contains(".It Em \(subcommand)"), "docs/man/\(tool).1 lacks \(subcommand)")
            }
        }
    }
}
