import Testing
@testable import Node

@Suite struct HTTPParserTests {
    let limits = HTTPLimits(headerBytesMax: 256, bodyBytesMax: 32, headersCountMax: 4)

    func parse(_ text: String) throws(HTTPParseError) -> HTTPParser.Outcome<HTTPRequest> {
        try HTTPParser.parseRequest(Array(text.utf8), limits: limits)
    }

    func status(_ text: String) -> Int? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.status
        }
    }

    @Test func parsesARequestWithBodyAndLeavesTheRest() throws {
        let text = "POST /v1/kv/x?wait=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n"
        guard case .message(let request, let consumed) = try parse(text) else {
            Issue.record("expected a request")
            return
        }
        #expect(request.method == "POST")
        #expect(request.path == "/v1/kv/x")
        #expect(request.query == ["wait": "1"])
        #expect(request.header("HOST") == "a")
        #expect(request.body == Array("abc".utf8))
        #expect(request.keepAlive)
        #expect(consumed == text.utf8.count - "GET / HTTP/1.1\r\n".utf8.count)
    }

    @Test func queryValuesArePercentDecodedAndBadEscapesStayAsSent() {
        let (path, query) = HTTPParser.splitTarget("/v1/patients/p/record?reason=chart%20review+2026&breakGlass=true&k%C3%A9y=%E2%9C%93&bad=50%&odd=%zz&raw=a%FFb")
        #expect(path == "/v1/patients/p/record")
        #expect(query["reason"] == "chart review 2026")
        #expect(query["breakGlass"] == "true")
        #expect(query["k\u{e9}y"] == "\u{2713}")
        #expect(query["bad"] == "50%" && query["odd"] == "%zz" && query["raw"] == "a%FFb")
    }

    @Test func waitsForMoreBytes() throws {
        guard case .needMore = try parse("GET / HTTP/1.1\r\nHost: a\r\n") else {
            Issue.record("head is incomplete")
            return
        }
        guard case .needMore = try parse("POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nab") else {
            Issue.record("body is incomplete")
            return
        }
    }

    @Test func limitsAndMalformedInputGetTheRightStatus() {
        #expect(status("GET / HTTP/1.1\r\nx: " + String(repeating: "a", count: 300)) == 431)
        #expect(status("GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n") == 431)
        #expect(status("POST / HTTP/1.1\r\ncontent-length: 33\r\n\r\n") == 413)
        #expect(status("POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n") == 501)
        #expect(status("GET / HTTP/2.0\r\n\r\n") == 505)
        #expect(status("GET /\r\n\r\n") == 400)
        #expect(status("get / HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET nope HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nno colon\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nbad name: 1\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nx: a\u{01}b\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nx: 1\r\n\r\n") == nil)
    }

    @Test func invalidUTF8IsABadRequest() {
        let bytes: [UInt8] = Array("GET / HTTP/1.1\r\nx: ".utf8) + [0xFF, 0xFE] + Array("\r\n\r\n".utf8)
        #expect(throws: HTTPParseError.self) { try HTTPParser.parseRequest(bytes, limits: limits) }
    }

    @Test func randomBytesNeverCrashTheParser() {
        var random = SplitMix(seed: 7)
        let alphabet = Array("GET POST / HTTP/1.1\r\n:content-length 0123456789 abc\u{0}\u{FF}".utf8)
        for _ in 0..<5_000 {
            let count = Int(random.next() % 200)
            let bytes = (0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            _ = try? HTTPParser.parseRequest(bytes, limits: limits)
            _ = try? HTTPParser.parseResponse(bytes, limits: limits)
        }
    }

    @Test func connectionHeaderControlsKeepAlive() throws {
        guard case .message(let close, _) = try parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
              case .message(let old, _) = try parse("GET / HTTP/1.0\r\n\r\n")
        else {
            Issue.record("expected requests")
            return
        }
        #expect(!close.keepAlive)
        #expect(!old.keepAlive)
    }

    @Test func routerMatchesParametersAnd404And405() {
        var router = Router()
        router.add("POST", "/v1/cluster/members/{id}/promote") { _, parameters in
            HTTPResponse.json(200, Array((parameters["id"] ?? "").utf8))
        }
        let hit = router.respond(to: HTTPRequest(method: "POST", path: "/v1/cluster/members/d/promote"))
        #expect(hit.status == 200)
        #expect(hit.body == Array("d".utf8))
        #expect(router.respond(to: HTTPRequest(method: "GET", path: "/v1/cluster/members/d/promote")).status == 405)
        #expect(router.respond(to: HTTPRequest(method: "POST", path: "/v1/cluster/members/d")).status == 404)
    }

    @Test func responseSerializationAndParsingRoundTrip() throws {
        let response = HTTPResponse.error(503, code: "no_leader", message: "no \"leader\" known")
        let bytes = response.serialized(keepAlive: true)
        guard case .message(let parsed, let consumed) = try HTTPParser.parseResponse(bytes, limits: HTTPLimits()) else {
            Issue.record("expected a response")
            return
        }
        #expect(consumed == bytes.count)
        #expect(parsed.status == 503)
        #expect(parsed.jsonObject?["error"] != nil)
        let error = parsed.jsonObject?["error"] as? [String: Any]
        #expect(error?["message"] as? String == "no \"leader\" known")
    }
}

/// SplitMix64 for test inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
