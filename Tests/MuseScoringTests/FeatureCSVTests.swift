import Testing
@testable import MuseScoring

/// CSV as pandas and other RFC 4180 writers produce it.
@Suite struct FeatureCSVTests {
    func csv(_ text: String, _ names: [String]) throws -> FeatureCSV {
        try FeatureCSV(Array(text.utf8), featureNames: names)
    }

    @Test func quotedFieldWithCommaIsOneField() throws {
        let text = """
            id,merchant,amount,age,country,channel,hour,score
            1,"Acme, Inc.",12.5,33,DE,web,13,0.1
            2,Plain,7,41,FR,app,2,0.2

            """
        let rows = try csv(text, ["amount", "age", "hour"])
        #expect(rows.rowCount == 2)
        #expect(rows.values == [12.5, 33, 13, 7, 41, 2])
    }

    @Test func doubledQuotesLineBreaksAndCRLF() throws {
        let text = "name,\"x\"\r\n\"say \"\"hi\"\", then\r\nleave\",1.5\r\n\"\"\"\",2\r\n"
        let rows = try csv(text, ["x"])
        #expect(rows.values == [1.5, 2])
    }

    @Test func quotedNumbersParseAsUnquoted() throws {
        let numbers = ["0.1", "-2.5e-300", "1e308", "0.30000000000000004", "4.9406564584124654e-324", "-0", " 3", "nan", "NaN"]
        let plain = try csv("a\n" + numbers.joined(separator: "\n") + "\n", ["a"])
        let quoted = try csv("\"a\"\n" + numbers.map { "\"\($0)\"" }.joined(separator: "\n") + "\n", ["a"])
        #expect(plain.rowCount == numbers.count && quoted.rowCount == numbers.count)
        #expect(plain.values.map(\.bitPattern) == quoted.values.map(\.bitPattern))
        // An empty quoted field is a missing value (an empty line is skipped).
        let empty = try csv("a,b\n\"\",1\n", ["a", "b"])
        #expect(empty.values.count == 2 && empty.values[0].isNaN && empty.values[1] == 1)
    }

    @Test func errorsNameTheLine() {
        #expect { _ = try csv("a,b\n1,\"2\n3\n", ["a"]) } throws: {
            ($0 as? FeatureCSV.ParseError).map { $0.line == 2 && $0.message.contains("not closed") } == true
        }
        #expect { _ = try csv("a,b\n1,\"x\ny\",3\n4,5\n", ["a"]) } throws: {
            ($0 as? FeatureCSV.ParseError).map { $0.line == 2 && $0.message.contains("has 3 fields") } == true
        }
        #expect { _ = try csv("a,b\n1,2\n\"3\"x,4\n", ["a"]) } throws: {
            ($0 as? FeatureCSV.ParseError).map { $0.line == 3 && $0.message.contains("after the closing quote") } == true
        }
        #expect { _ = try csv("a,b\n1,2\n\"1,5\",4\n", ["a"]) } throws: {
            ($0 as? FeatureCSV.ParseError).map { $0.line == 3 && $0.message.contains("is not a number") } == true
        }
    }
}
