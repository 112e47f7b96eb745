import CShims
import Glibc

/// Waits for many connections at once on one thread (Linux epoll), so a server
/// or a load generator needs no thread per connection.
///
/// Each descriptor carries a caller's token and is watched for readability,
/// optionally one-shot: after its event it stays quiet until `rearm`, so two
/// threads never handle it at once. `watch`, `rearm` and `forget` may be called
/// from any thread, also while another waits.
public final class Poller: @unchecked Sendable {
    private let fd: Int32
    /// Ready descriptors taken per `wait`, at most.
    public static let eventsMax = 256

    public init() throws(ConnectionError) {
        fd = ll_epoll_create()
        guard fd >= 0 else { throw .io(Socket.errorText("epoll_create1")) }
    }

    deinit { Glibc.close(fd) }

    /// Starts watching `descriptor` for readability (and for the peer closing).
    public func watch(_ descriptor: Int32, token: UInt64, oneShot: Bool) throws(ConnectionError) {
        guard ll_epoll_watch(fd, descriptor, 0, oneShot ? 1 : 0, token) == 0 else { throw .io(Socket.errorText("epoll_ctl add")) }
    }

    /// Watches a one-shot descriptor again after its event.
    public func rearm(_ descriptor: Int32, token: UInt64) throws(ConnectionError) {
        guard ll_epoll_watch(fd, descriptor, 1, 1, token) == 0 else { throw .io(Socket.errorText("epoll_ctl mod")) }
    }

    /// Stops watching `descriptor` (before it is closed).
    public func forget(_ descriptor: Int32) {
        _ = ll_epoll_forget(fd, descriptor)
    }

    /// Waits up to `timeoutMs` for ready descriptors and puts their tokens in
    /// `tokens` (replacing its contents). None on a timeout or a signal.
    public func wait(timeoutMs: Int32, into tokens: inout [UInt64]) {
        tokens.removeAll(keepingCapacity: true)
        var taken = [UInt64](repeating: 0, count: Poller.eventsMax)
        let ready = ll_epoll_wait(fd, &taken, Int32(Poller.eventsMax), timeoutMs)
        guard ready > 0 else { return }
        tokens.append(contentsOf: taken[0..<Int(ready)])
    }
}
