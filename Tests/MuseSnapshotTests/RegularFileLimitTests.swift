import Foundation
import MuseCore
import Testing

/// `RegularFile.read(_:limit:)`, which mused uses for model files operators
/// name: a file over the limit is refused by its size, naming it.
@Suite struct RegularFileLimitTests {
    @Test func aFileOverTheLimitIsRefusedAndOneAtItIsRead() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("model.txt")
        try Data(repeating: 65, count: 100).write(to: URL(fileURLWithPath: path))
        #expect(try RegularFile.read(path, limit: 100).count == 100)
        #expect(throws: FileReadError(path: path, reason: "is 100 bytes, over the limit of 99 bytes")) {
            _ = try RegularFile.read(path, limit: 99)
        }
    }
}
