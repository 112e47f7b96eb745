/// One HTTP/1.1 request as the server hands it to a route.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query, percent-decoding NOT applied (ids are plain ASCII).
    public var path: String
    public var query: [String: String]
    public var version: String
    /// Header names lowercased, in arrival order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Who is calling, once the router checked the bearer token (nil on open routes).
    public var principal: Principal?
    /// True when the server that read this request can write a deferred answer
    /// (`HTTPResponse.deferred`); false for a router called directly.
    public var deferrable = false

    public init(method: String, path: String, query: [String: String] = [:], version: String = "HTTP/1.1",
                headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The first header with `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    /// True when the client asked to keep the connection open (HTTP/1.1 default).
    public var keepAlive: Bool {
        let connection = header("connection")?.lowercased()
        if version == "HTTP/1.0" { return connection == "keep-alive" }
        return connection != "close"
    }
}

/// One HTTP/1.1 response.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Set (with status 0) when the answer comes later: see `PendingResponse`.
    public var pending: PendingResponse?

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response from already-encoded bytes.
    public static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("content-type", "application/json")], body: body)
    }

    /// The API's one error shape: `{"error":{"code":"...","message":"..."}}`.
    /// `message` MUST NOT contain PHI or echo request bodies.
    public static func error(_ status: Int, code: String, message: String) -> HTTPResponse {
        json(status, Array("{\"error\":{\"code\":\(Log.quoted(code)),\"message\":\(Log.quoted(message))}}".utf8))
    }

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// The bytes on the wire, with Content-Length and the Connection header.
    public func serialized(keepAlive: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPResponse.reason(status))\r\n"
        for (name, value) in headers where name.lowercased() != "content-length" && name.lowercased() != "connection" {
            head += "\(name): \(value)\r\n"
        }
        head += "content-length: \(body.count)\r\n"
        head += keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }
}
