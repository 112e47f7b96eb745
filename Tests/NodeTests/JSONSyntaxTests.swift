import Foundation
import Testing
@testable import Node

@Suite struct JSONSyntaxTests {
    static let valid = [
        "{}", "[]", "0", "-0", "12.5e-3", "1E+2", "true", "false", "null", "\"\"", " \t\n{ \"a\" : [1, 2, {\"b\": null}] } ",
        "{\"ok\":true,\"index\":7,\"created\":false}", "\"\\u00e9\\n\\\"\\\\\\/\"", "[\"é\", -1.0, 3e10]",
    ]
    static let invalid = [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "True",
        "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"tab\there\"", "{} {}", "[1 2]", "{\"a\" 1}", "NaN", "'x'",
        String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ]

    @Test func acceptsJSONAndAgreesWithFoundation() throws {
        for text in Self.valid {
            #expect(JSONSyntax.isValid(Array(text.utf8)), "\(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil, "\(text)")
        }
    }

    @Test func refusesWhatIsNotOneJSONValue() {
        for text in Self.invalid {
            #expect(!JSONSyntax.isValid(Array(text.utf8)), "\(text)")
        }
    }

    @Test func randomBytesAndTruncationsNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...24, using: &generator)).map { _ in
                Array("{}[]\",:0123456789.eE+-truefalsn \\u".utf8).randomElement(using: &generator)!
            }
            _ = JSONSyntax.isValid(bytes)
        }
        let document = Array("{\"a\":[1,2.5,{\"b\":\"x\\n\"}],\"c\":true}".utf8)
        for cut in 0..<document.count {
            #expect(!JSONSyntax.isValid(Array(document[0..<cut])), "prefix of \(cut) bytes")
        }
        #expect(JSONSyntax.isValid(document))
    }

    @Test func proposalResponsesEmbedTheResultOrNull() throws {
        let ok = NodeAPI.outcome(.applied(index: 9, result: Array("{\"ok\":true}".utf8)), created: false)
        #expect(ok.status == 200)
        #expect(String(decoding: ok.body, as: UTF8.self) == "{\"index\":9,\"result\":{\"ok\":true}}")
        let created = NodeAPI.outcome(.applied(index: 3, result: []), created: true)
        #expect(created.status == 201)
        #expect(String(decoding: created.body, as: UTF8.self) == "{\"index\":3,\"result\":null}")
        let garbage = NodeAPI.outcome(.applied(index: 4, result: Array("{\"broken\"".utf8)), created: false)
        #expect(String(decoding: garbage.body, as: UTF8.self) == "{\"index\":4,\"result\":null}")
        #expect((try JSONSerialization.jsonObject(with: Data(garbage.body))) is [String: Any])
    }
}
