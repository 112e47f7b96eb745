import Synchronization

/// A response that is not ready when its handler returns: a write's answer,
/// which comes when the node loop applies the command.
///
/// The handler returns `HTTPResponse.deferred(pending)` at once; the node loop
/// later calls `fulfil`, and the HTTP server, which called `whenReady`, writes
/// the response. Whichever of the two comes second runs the sink, on its own
/// thread. So the connection's thread does not sit blocked while the command
/// is replicated, and the loop does not wake one thread per answered write.
public final class PendingResponse: Sendable {
    private struct State {
        var make: (@Sendable () -> HTTPResponse)?
        var sink: (@Sendable (@escaping @Sendable () -> HTTPResponse) -> Void)?
        var delivered = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Supplies the response, as a closure so that building it runs wherever the
    /// sink runs (the server's writer), not on the node loop. The first call wins.
    public func fulfil(_ make: @escaping @Sendable () -> HTTPResponse) {
        let sink = state.withLock { state -> (@Sendable (@escaping @Sendable () -> HTTPResponse) -> Void)? in
            guard state.make == nil, !state.delivered else { return nil }
            state.make = make
            return Self.take(&state)
        }
        sink?(make)
    }

    /// Where the response goes once it exists (called once, by the server).
    func whenReady(_ sink: @escaping @Sendable (@escaping @Sendable () -> HTTPResponse) -> Void) {
        let ready = state.withLock { state -> (@Sendable () -> HTTPResponse)? in
            guard state.sink == nil, !state.delivered else { return nil }
            state.sink = sink
            return Self.take(&state) != nil ? state.make : nil
        }
        if let ready { sink(ready) }
    }

    /// The sink, once both halves are there (and marks the response delivered).
    private static func take(_ state: inout State) -> (@Sendable (@escaping @Sendable () -> HTTPResponse) -> Void)? {
        guard let sink = state.sink, state.make != nil, !state.delivered else { return nil }
        state.delivered = true
        return sink
    }
}

extension HTTPResponse {
    /// A response that a `PendingResponse` will supply: the server writes it when
    /// it comes. Only handlers of requests marked `deferrable` return these.
    public static func deferred(_ pending: PendingResponse) -> HTTPResponse {
        var response = HTTPResponse(status: 0)
        response.pending = pending
        return response
    }
}
