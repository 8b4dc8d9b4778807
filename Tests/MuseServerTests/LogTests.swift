import Testing
@testable import MuseServer

/// Log lines: logfmt, with journald's priority prefix only when standard
/// output is the journal.
@Suite struct LogTests {
    @Test func aLineStartsWithItsPriorityOnlyForTheJournal() {
        let fields: KeyValuePairs<String, Any> = ["path": "/tmp/a b", "reason": "not a \"snapshot\""]
        let plain = #"level=warning event=swap-refused path="/tmp/a b" reason="not a \"snapshot\""\#n"#
        #expect(Log.format(.warning, "swap-refused", fields, priority: false) == plain)
        #expect(Log.format(.warning, "swap-refused", fields, priority: true) == "<4>" + plain)
        // Fields a caller assembled (the control plane's refusals) read the same.
        let assembled: [(String, Any)] = [("path", "/tmp/a b"), ("reason", "not a \"snapshot\"")]
        #expect(Log.format(.warning, "swap-refused", assembled, priority: false) == plain)
        #expect(Log.format(.error, "reload-refused", [:], priority: true) == "<3>level=error event=reload-refused\n")
        #expect(Log.format(.info, "serving", ["tenants": 2], priority: true) == "<6>level=info event=serving tenants=2\n")
        #expect(Log.format(.debug, "x", [:], priority: true) == "<7>level=debug event=x\n")
    }

    @Test func theJournalStreamMustNameStandardOutput() {
        #expect(Log.isJournalStream("8:12345", device: 8, inode: 12345))
        #expect(!Log.isJournalStream(nil, device: 8, inode: 12345))
        #expect(!Log.isJournalStream("8:12346", device: 8, inode: 12345))
        #expect(!Log.isJournalStream("9:12345", device: 8, inode: 12345))
        for malformed in ["", "8", "8:", ":12345", "8:12345:1", "x:y", "-8:12345", " 8:12345"] {
            #expect(!Log.isJournalStream(malformed, device: 8, inode: 12345), "\(malformed)")
        }
    }
}
