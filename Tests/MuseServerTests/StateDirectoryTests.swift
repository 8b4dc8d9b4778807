#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import MuseServer

/// The state directory's promise: a mused killed at any instant of a swap or
/// a rollback comes back serving the old or the new snapshot, never none.
/// Each test stops the commit after every one of its steps, as a crash would,
/// and opens the directory again as a restarted mused does.
struct StateDirectoryTests {
    static func directory() -> String { "\(GenerationSwapTests.runtimeDirectory())/state" }

    /// Removes what `directory()` made: the temporary directory around it
    /// (not `path/..`, which no longer resolves once `path` is gone).
    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: URL(filePath: path).deletingLastPathComponent().path)
    }

    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    static func contents(_ path: String?) -> String? {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// A state directory serving "old", with "new" staged, as a swap leaves it
    /// just before its commit.
    static func staged(_ path: String, previous: String? = nil) throws -> StateDirectory {
        let state = try StateDirectory(path: path)
        try Array("old".utf8).withUnsafeBytes { try state.stage($0) }
        try state.commitStaged()
        if let previous { try write(previous, to: state.file(StateDirectory.previousName)) }
        try Array("new".utf8).withUnsafeBytes { try state.stage($0) }
        return state
    }

    /// How many steps `steps` of a freshly staged directory has.
    static func stepCount(_ steps: (StateDirectory) -> [() throws -> Void]) throws -> Int {
        let path = directory()
        defer { remove(path) }
        return steps(try staged(path)).count
    }

    @Test(arguments: [false, true])
    func aSwapKilledAfterAnyStepServesTheOldOrTheNewSnapshot(hadPrevious: Bool) throws {
        let count = try Self.stepCount { $0.commitSteps() }
        #expect(count == 4)
        for stop in 0...count {
            let path = Self.directory()
            defer { Self.remove(path) }
            let state = try Self.staged(path, previous: hadPrevious ? "older" : nil)
            for step in state.commitSteps().prefix(stop) { try step() }
            let restarted = try StateDirectory(path: path)
            let serving = Self.contents(restarted.servingSnapshot)
            let previous = Self.contents(restarted.file(StateDirectory.previousName))
            if stop < 3 {
                // The last rename did not happen: the old snapshot is served.
                #expect(serving == "old", "stopped after \(stop) steps")
                #expect(previous == (stop >= 2 ? "old" : hadPrevious ? "older" : nil), "stopped after \(stop) steps")
            } else {
                #expect(serving == "new", "stopped after \(stop) steps")
                #expect(previous == "old", "stopped after \(stop) steps")
            }
            // Nothing half-made is left for the next swap to trip on.
            #expect(access(restarted.file(StateDirectory.incomingName), F_OK) != 0)
            #expect(access(restarted.file(StateDirectory.previousLinkName), F_OK) != 0)
        }
    }

    @Test func aRollbackKilledAfterAnyStepServesOneOfTheTwoSnapshots() throws {
        let count = try Self.stepCount { $0.rollbackSteps() }
        for stop in 0...count {
            let path = Self.directory()
            defer { Self.remove(path) }
            let state = try Self.staged(path)
            try state.commitStaged()  // serving "new", previous "old"
            for step in state.rollbackSteps().prefix(stop) { try step() }
            let restarted = try StateDirectory(path: path)
            let serving = Self.contents(restarted.servingSnapshot)
            let previous = Self.contents(restarted.file(StateDirectory.previousName))
            // Undone (stopped after the first step) or finished: never one
            // snapshot under both names, never none served.
            let undone = stop <= 1
            #expect(serving == (undone ? "new" : "old"), "stopped after \(stop) steps")
            #expect(previous == (undone ? "old" : "new"), "stopped after \(stop) steps")
            #expect(access(restarted.file(StateDirectory.rollbackName), F_OK) != 0)
        }
    }
}
