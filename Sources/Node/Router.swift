/// Maps (method, path pattern) to a handler. Patterns are `/`-separated segments;
/// `{name}` captures one segment. Later issues add routes with `add`.
public struct Router: Sendable {
    public typealias Handler = @Sendable (_ request: HTTPRequest, _ parameters: [String: String]) -> HTTPResponse

    struct Route: Sendable {
        var method: String
        var pattern: String
        var segments: [String]
        var handler: Handler
    }

    private var routes: [Route] = []

    /// Checks a request for its route ("METHOD /pattern") before the handler runs:
    /// the caller's identity, or the refusal to send. Nil: no check (tests, the
    /// read-only dashboard listener).
    public var authorize: (@Sendable (_ request: HTTPRequest, _ route: String) -> Result<Principal?, RefusedRequest>)?

    public init() {}

    /// Registers `handler` for `method` on `pattern` (e.g. `/v1/cluster/members/{id}/promote`).
    public mutating func add(_ method: String, _ pattern: String, _ handler: @escaping Handler) {
        let segments = Router.segments(pattern)
        precondition(!routes.contains { $0.method == method && $0.segments == segments }, "route \(method) \(pattern) added twice")
        routes.append(Route(method: method, pattern: pattern, segments: segments, handler: handler))
    }

    /// Every registered route as "METHOD /pattern", in registration order: what
    /// Docs/openapi.json must describe, and what an access matrix is keyed by.
    public var table: [String] { routes.map { "\($0.method) \($0.pattern)" } }

    /// The response for `request`: the route's, or 404 (no such path) / 405 (path
    /// exists, method does not) as JSON errors.
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        let path = Router.segments(request.path)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Router.match(route.segments, path) else { continue }
            if route.method == request.method || (request.method == "HEAD" && route.method == "GET") {
                guard let authorize else { return route.handler(request, parameters) }
                switch authorize(request, "\(route.method) \(route.pattern)") {
                case .failure(let refused):
                    return refused.response
                case .success(let principal):
                    var checked = request
                    checked.principal = principal
                    return route.handler(checked, parameters)
                }
            }
            allowed.append(route.method)
        }
        if !allowed.isEmpty {
            var response = HTTPResponse.error(405, code: "method_not_allowed", message: "use \(allowed.joined(separator: ", ")) on this path")
            response.headers.append(("allow", allowed.joined(separator: ", ")))
            return response
        }
        return .error(404, code: "not_found", message: "no route for this path")
    }

    static func segments(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    static func match(_ pattern: [String], _ path: [String]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        var parameters: [String: String] = [:]
        for (want, have) in zip(pattern, path) {
            if want.hasPrefix("{") && want.hasSuffix("}") {
                parameters[String(want.dropFirst().dropLast())] = have
            } else if want != have {
                return nil
            }
        }
        return parameters
    }
}
