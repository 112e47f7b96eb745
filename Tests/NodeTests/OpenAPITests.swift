#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import Node
import Raft
import Testing

/// Docs/openapi.json and the routes the server answers are the same set.
@Suite struct OpenAPITests {
    static let document: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Docs/openapi.json").path
    }()

    static func router() -> Router {
        let address = HostPort(host: "127.0.0.1", port: 1)
        let config = NodeConfig(
            node: NodeID("a"), site: SiteID("site-a"), clusterID: "doc", dataDir: "/nonexistent", peerListen: address,
            apiListen: HostPort(host: "127.0.0.1", port: 2), peers: [], tls: TLSFiles(ca: "", cert: "", key: "")
        )
        let quiet = Log(node: "a", minimumLevel: .error, fileDescriptor: open("/dev/null", O_WRONLY))
        return NodeAPI.makeRouter(runtime: NodeRuntime(config: config, log: quiet))
    }

    /// "METHOD /path" for every operation of an OpenAPI document.
    static func operations(_ data: Data) throws -> Set<String> {
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["openapi"] as? String == "3.1.0")
        let paths = try #require(object["paths"] as? [String: [String: Any]])
        var operations: Set<String> = []
        for (path, methods) in paths {
            for method in methods.keys where ["get", "put", "post", "delete", "patch"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// What differs between the server and the document, both ways.
    static func mismatches(server: [String], documented: Set<String>) -> [String] {
        Set(server).subtracting(documented).sorted().map { "served but not documented: \($0)" }
            + documented.subtracting(server).sorted().map { "documented but not served: \($0)" }
    }

    @Test func everyServedRouteIsDocumentedAndEveryDocumentedRouteIsServed() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.document))
        let table = Self.router().table
        #expect(Set(table).count == table.count, "a route is registered twice")
        let problems = Self.mismatches(server: table, documented: try Self.operations(data))
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test func theCheckCatchesARouteMissingFromEitherSide() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.document))
        var documented = try Self.operations(data)
        let table = Self.router().table
        let dropped = try #require(documented.first)
        documented.remove(dropped)
        #expect(Self.mismatches(server: table, documented: documented) == ["served but not documented: \(dropped)"])
        documented.insert(dropped)
        documented.insert("GET /v1/imaginary")
        #expect(Self.mismatches(server: table, documented: documented) == ["documented but not served: GET /v1/imaginary"])
    }
}
