import Foundation
import Node
import Testing

/// `lifeline demo` as a new user runs it (bounded with --duration): it serves
/// three sites with calls flowing, shows a killed site go down, and stops every
/// process it started.
@Suite(.serialized) struct DemoTests {
    @Test func theDemoRunsShowsFailoverAndCleansUp() throws {
        let directory = NSTemporaryDirectory() + "lifeline-demo-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = TestCluster.basePort(slot: 12)
        let (status, output) = TestCluster.run([
            "demo", "--duration", "16", "--kill-site", "denver", "--after", "5", "--rate", "4",
            "--base-port", "\(base)", "--dir", directory, "--keep",
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("status pages"), "\(output)")
        #expect(output.contains("denver DOWN"), "the killed site was never shown down:\n\(output)")
        let final = output.split(separator: "\n").last { $0.hasPrefix("contacts ") }.map(String.init) ?? ""
        let answered = final.split(separator: ",").first { $0.contains("answered") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        #expect(answered > 0, "no call was answered:\n\(output)")
        // Everything it started is gone.
        let file = try ClusterFile.read(from: directory)
        #expect(file.nodes.count == 3)
        for node in file.nodes {
            #expect(!ProcessControl.isRunning(node.pid, commandContains: ["serve", directory]), "\(node.node) (pid \(node.pid)) still runs")
        }
    }
}
