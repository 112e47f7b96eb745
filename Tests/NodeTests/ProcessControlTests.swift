#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Testing

struct ProcessControlTests {
    /// A child started by `ProcessControl` gets stdin, stdout and stderr and no other
    /// descriptor of its parent. A socket a child inherits stays open after the parent
    /// closes it: the drill's fault proxies "reset" links that a node restarted
    /// meanwhile still held, and the far end never learned the link was gone.
    @Test func aChildInheritsNoDescriptorBeyondTheStandardThree() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socketFD > 2)
        defer { close(socketFD) }
        let script = "if [ -e /proc/$$/fd/\(socketFD) ]; then echo inherited; else echo closed; fi"
        let (status, output) = ProcessControl.run(executable: "/bin/sh", arguments: ["-c", script], timeoutMs: 10_000)
        #expect(status == 0, "\(output)")
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "closed", "the child holds the parent's socket fd \(socketFD)")
    }
}
