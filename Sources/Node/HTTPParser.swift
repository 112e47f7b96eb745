/// Limits on what one HTTP request may be. Anything larger is refused with the
/// matching 4xx before it is buffered.
public struct HTTPLimits: Sendable, Equatable {
    /// Request line plus headers, including the blank line.
    public var headerBytesMax: Int
    public var bodyBytesMax: Int
    public var headersCountMax: Int
    /// Time to receive one whole request once its first byte arrived, and the idle
    /// time allowed between keep-alive requests.
    public var requestTimeoutMs: UInt64
    public var idleTimeoutMs: UInt64
    public var connectionsMax: Int

    public init(headerBytesMax: Int = 16 * 1024, bodyBytesMax: Int = 1 << 20, headersCountMax: Int = 64,
                requestTimeoutMs: UInt64 = 10_000, idleTimeoutMs: UInt64 = 60_000, connectionsMax: Int = 256) {
        self.headerBytesMax = headerBytesMax
        self.bodyBytesMax = bodyBytesMax
        self.headersCountMax = headersCountMax
        self.requestTimeoutMs = requestTimeoutMs
        self.idleTimeoutMs = idleTimeoutMs
        self.connectionsMax = connectionsMax
    }
}

/// Why bytes are not a valid HTTP request: the status and error code to answer with.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String

    public init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status) \(code): \(message)" }
}

/// A parsed head: start line split in three, headers lowercased.
struct HTTPHead {
    var start: (String, String, String)
    var headers: [(name: String, value: String)]
    /// Bytes of the head including the final CRLFCRLF.
    var length: Int
}

/// Incremental HTTP/1.1 message parsing over a growing buffer. Pure: no I/O.
public enum HTTPParser {
    public enum Outcome<Message> {
        /// Not enough bytes yet.
        case needMore
        /// One whole message and how many bytes of the buffer it used.
        case message(Message, consumed: Int)
    }

    /// Parses one request from the start of `buffer`.
    /// Throws when the bytes can never become a valid request within `limits`.
    public static func parseRequest(_ buffer: [UInt8], limits: HTTPLimits) throws(HTTPParseError) -> Outcome<HTTPRequest> {
        guard let head = try parseHead(buffer, limits: limits) else { return .needMore }
        let (method, target, version) = head.start
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            throw HTTPParseError(505, "http_version", "only HTTP/1.1 and HTTP/1.0 are served")
        }
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw HTTPParseError(400, "bad_request", "malformed method")
        }
        guard target.hasPrefix("/") else { throw HTTPParseError(400, "bad_request", "request target must start with /") }
        let bodyLength = try bodyLength(head.headers, limit: limits.bodyBytesMax, isRequest: true)
        guard buffer.count >= head.length + bodyLength else { return .needMore }
        let (path, query) = splitTarget(target)
        let request = HTTPRequest(
            method: method, path: path, query: query, version: version, headers: head.headers,
            body: Array(buffer[head.length..<(head.length + bodyLength)])
        )
        return .message(request, consumed: head.length + bodyLength)
    }

    /// Parses one response from the start of `buffer` (for the client).
    public static func parseResponse(_ buffer: [UInt8], limits: HTTPLimits) throws(HTTPParseError) -> Outcome<HTTPResponse> {
        guard let head = try parseHead(buffer, limits: limits) else { return .needMore }
        let (version, statusText, _) = head.start
        guard version.hasPrefix("HTTP/1."), let status = Int(statusText), (100...599).contains(status) else {
            throw HTTPParseError(502, "bad_response", "malformed status line")
        }
        let bodyLength = try bodyLength(head.headers, limit: limits.bodyBytesMax, isRequest: false)
        guard buffer.count >= head.length + bodyLength else { return .needMore }
        let response = HTTPResponse(status: status, headers: head.headers, body: Array(buffer[head.length..<(head.length + bodyLength)]))
        return .message(response, consumed: head.length + bodyLength)
    }

    // MARK: - Pieces

    static func parseHead(_ buffer: [UInt8], limits: HTTPLimits) throws(HTTPParseError) -> HTTPHead? {
        guard let end = headEnd(buffer, searchLimit: limits.headerBytesMax) else {
            if buffer.count >= limits.headerBytesMax {
                throw HTTPParseError(431, "headers_too_large", "request head exceeds \(limits.headerBytesMax) bytes")
            }
            return nil
        }
        guard String(validating: buffer[0..<end], as: UTF8.self) != nil else {
            throw HTTPParseError(400, "bad_request", "request head is not UTF-8")
        }
        // Lines are found on the bytes (CR LF pairs); Strings are made only for
        // the pieces kept. Splitting the head as a String (Characters) was a
        // tenth of the leader's CPU per request.
        var lineRanges: [Range<Int>] = []
        var lineStart = 0
        var index = 0
        while index + 1 < end {
            if buffer[index] == 13 && buffer[index + 1] == 10 {
                lineRanges.append(lineStart..<index)
                index += 2
                lineStart = index
            } else {
                index += 1
            }
        }
        lineRanges.append(lineStart..<end)
        let startLine = lineRanges.removeFirst()
        var parts: [String] = []
        var partStart = startLine.lowerBound
        for position in startLine where buffer[position] == 32 && parts.count < 2 {
            parts.append(String(decoding: buffer[partStart..<position], as: UTF8.self))
            partStart = position + 1
        }
        parts.append(String(decoding: buffer[partStart..<startLine.upperBound], as: UTF8.self))
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw HTTPParseError(400, "bad_request", "malformed start line")
        }
        guard lineRanges.count <= limits.headersCountMax else {
            throw HTTPParseError(431, "headers_too_large", "more than \(limits.headersCountMax) headers")
        }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(lineRanges.count)
        for line in lineRanges {
            guard let colon = line.first(where: { buffer[$0] == UInt8(ascii: ":") }) else {
                throw HTTPParseError(400, "bad_request", "malformed header line")
            }
            let name = buffer[line.lowerBound..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
                throw HTTPParseError(400, "bad_request", "malformed header name")
            }
            var valueStart = colon + 1
            var valueEnd = line.upperBound
            while valueStart < valueEnd && (buffer[valueStart] == 32 || buffer[valueStart] == 9) { valueStart += 1 }
            while valueEnd > valueStart && (buffer[valueEnd - 1] == 32 || buffer[valueEnd - 1] == 9) { valueEnd -= 1 }
            let value = buffer[valueStart..<valueEnd]
            guard value.allSatisfy({ $0 >= 0x20 || $0 == 0x09 }), !value.contains(0x7F) else {
                throw HTTPParseError(400, "bad_request", "control character in a header value")
            }
            let lowerName = name.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            headers.append((String(decoding: lowerName, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return HTTPHead(start: (parts[0], parts[1], parts[2]), headers: headers, length: end + 4)
    }

    /// Index of the CRLFCRLF ending the head, searching at most `searchLimit` bytes.
    static func headEnd(_ buffer: [UInt8], searchLimit: Int) -> Int? {
        let count = min(buffer.count, searchLimit)
        guard count >= 4 else { return nil }
        var index = 0
        while index + 3 < count {
            if buffer[index] == 13, buffer[index + 1] == 10, buffer[index + 2] == 13, buffer[index + 3] == 10 {
                return index
            }
            index += 1
        }
        return nil
    }

    static func bodyLength(_ headers: [(name: String, value: String)], limit: Int, isRequest: Bool) throws(HTTPParseError) -> Int {
        if headers.contains(where: { $0.name == "transfer-encoding" }) {
            throw HTTPParseError(501, "not_implemented", "transfer-encoding is not supported; send content-length")
        }
        let lengths = headers.filter { $0.name == "content-length" }.map(\.value)
        guard let first = lengths.first else { return 0 }
        guard lengths.allSatisfy({ $0 == first }), first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), first.utf8.count <= 12,
              let length = Int(first)
        else {
            throw HTTPParseError(400, "bad_request", "malformed content-length")
        }
        guard length <= limit else {
            throw HTTPParseError(413, "body_too_large", "body exceeds \(limit) bytes")
        }
        return length
    }

    static func splitTarget(_ target: String) -> (String, [String: String]) {
        guard let mark = target.firstIndex(of: "?") else { return (target, [:]) }
        var query: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&") {
            let pieces = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query[percentDecoded(pieces[0])] = pieces.count > 1 ? percentDecoded(pieces[1]) : ""
        }
        return (String(target[..<mark]), query)
    }

    /// A query key or value with `%XX` escapes and form-style `+` (space)
    /// decoded; text that is not valid escaped UTF-8 stays as sent.
    static func percentDecoded(_ text: Substring) -> String {
        guard text.contains(where: { $0 == "%" || $0 == "+" }) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return String(text) }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self) ?? String(text)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
