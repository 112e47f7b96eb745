import COpenSSL
import CShims
import Glibc
import Synchronization

/// A mutually authenticated TLS 1.3 connection over a non-blocking socket.
///
/// One reader and one writer may use it at once. OpenSSL's SSL object is not
/// safe for concurrent calls, so every SSL call holds `lock`; a blocked reader
/// or writer waits in poll() WITHOUT the lock. `close()` shuts the socket down,
/// which wakes both; the descriptor itself is closed in `deinit`, so it is
/// never reused while another thread still polls it.
public final class TLSConnection: Connection, @unchecked Sendable {
    private let ssl: OpaquePointer
    private let fd: Int32
    private let lock = Mutex<Void>(())
    private let closed = Atomic<Bool>(false)
    public let peerNames: [String]
    public let remoteAddress: String

    /// The largest single read, to bound memory per call.
    public static let readBytesMax = 1 << 20

    private init(ssl: OpaquePointer, fd: Int32, peerNames: [String], remoteAddress: String) {
        self.ssl = ssl
        self.fd = fd
        self.peerNames = peerNames
        self.remoteAddress = remoteAddress
    }

    deinit {
        SSL_free(ssl)
        Glibc.close(fd)
    }

    /// Runs the TLS handshake on a connected socket. On failure the socket is closed.
    static func handshake(fd: Int32, context: TLSContext, expectedPeer: String?, deadline: Deadline) throws(ConnectionError) -> TLSConnection {
        let remote = Socket.remoteAddress(fd)
        guard let ssl = SSL_new(context.raw) else {
            Glibc.close(fd)
            throw .handshake(openSSLErrors("SSL_new"))
        }
        SSL_set_fd(ssl, fd)
        if context.role == .client, let expectedPeer { _ = ll_SSL_set_tlsext_host_name(ssl, expectedPeer) }
        while true {
            ERR_clear_error()
            let result = context.role == .server ? SSL_accept(ssl) : SSL_connect(ssl)
            if result == 1 { break }
            let code = SSL_get_error(ssl, result)
            let events: Int16
            switch code {
            case SSL_ERROR_WANT_READ: events = Int16(POLLIN)
            case SSL_ERROR_WANT_WRITE: events = Int16(POLLOUT)
            default:
                let verify = SSL_get_verify_result(ssl)
                let detail = verify != X509_V_OK ? String(cString: X509_verify_cert_error_string(Int(verify))) : openSSLErrors("TLS error \(code)")
                SSL_free(ssl)
                Glibc.close(fd)
                throw .handshake("\(remote): \(detail)")
            }
            let ready: Bool
            do {
                ready = try Socket.wait(fd, events: events, deadline: deadline)
            } catch {
                SSL_free(ssl)
                Glibc.close(fd)
                throw error
            }
            guard ready else {
                SSL_free(ssl)
                Glibc.close(fd)
                throw .timedOut
            }
        }
        let names = Self.certificateNames(ssl)
        let connection = TLSConnection(ssl: ssl, fd: fd, peerNames: names, remoteAddress: remote)
        if let expectedPeer, !verifyPeer(names, claims: expectedPeer) {
            connection.close()
            throw .peerIdentity("\(remote) presented a certificate for \(names), not '\(expectedPeer)'")
        }
        return connection
    }

    /// DNS and IP subject alternative names, then the common name, of the verified peer.
    private static func certificateNames(_ ssl: OpaquePointer) -> [String] {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return [] }
        defer { X509_free(certificate) }
        return CertificateNames.of(certificate)
    }

    public func read(maxBytes: Int, deadline: Deadline?) throws(ConnectionError) -> [UInt8] {
        let count = min(max(1, maxBytes), Self.readBytesMax)
        while true {
            if closed.load(ordering: .acquiring) { throw .closed }
            // SSL_read writes straight into the array's uninitialized storage: no
            // zero fill and no copy per read (both showed up per request).
            var code: Int32 = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { storage, initialized in
                let result = lock.withLock { _ in
                    ERR_clear_error()
                    let result = SSL_read(ssl, storage.baseAddress, Int32(count))
                    code = result > 0 ? 0 : SSL_get_error(ssl, result)
                    return result
                }
                initialized = result > 0 ? Int(result) : 0
            }
            if !bytes.isEmpty { return bytes }
            switch code {
            case SSL_ERROR_WANT_READ:
                guard try Socket.wait(fd, events: Int16(POLLIN), deadline: deadline) else { throw .timedOut }
            case SSL_ERROR_WANT_WRITE:
                guard try Socket.wait(fd, events: Int16(POLLOUT), deadline: deadline) else { throw .timedOut }
            case SSL_ERROR_ZERO_RETURN:
                throw .closed
            default:
                if closed.load(ordering: .acquiring) { throw .closed }
                let detail = openSSLErrors("read")
                throw detail == "read" ? .closed : .io(detail)
            }
        }
    }

    public func write(_ bytes: [UInt8], deadline: Deadline?) throws(ConnectionError) {
        var offset = 0
        while offset < bytes.count {
            if closed.load(ordering: .acquiring) { throw .closed }
            let (result, code) = lock.withLock { _ in
                ERR_clear_error()
                let result = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(bytes.count - offset)) }
                return (result, result > 0 ? 0 : SSL_get_error(ssl, result))
            }
            if result > 0 {
                offset += Int(result)
                continue
            }
            switch code {
            case SSL_ERROR_WANT_WRITE:
                guard try Socket.wait(fd, events: Int16(POLLOUT), deadline: deadline) else { throw .timedOut }
            case SSL_ERROR_WANT_READ:
                guard try Socket.wait(fd, events: Int16(POLLIN), deadline: deadline) else { throw .timedOut }
            default:
                throw .io(openSSLErrors("write"))
            }
        }
    }

    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// True when the certificate names `claims` (exactly, among its names).
public func verifyPeer(_ names: [String], claims: String) -> Bool {
    names.contains(claims)
}

/// Plain TCP, for a loopback-only dashboard when the config allows it.
public final class PlainConnection: Connection, @unchecked Sendable {
    private let fd: Int32
    private let closed = Atomic<Bool>(false)
    public let remoteAddress: String
    public var peerNames: [String] { [] }

    init(fd: Int32) {
        self.fd = fd
        remoteAddress = Socket.remoteAddress(fd)
    }

    deinit { Glibc.close(fd) }

    public func read(maxBytes: Int, deadline: Deadline?) throws(ConnectionError) -> [UInt8] {
        let count = min(max(1, maxBytes), TLSConnection.readBytesMax)
        var buffer = [UInt8](repeating: 0, count: count)
        while true {
            if closed.load(ordering: .acquiring) { throw .closed }
            let result = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count, 0) }
            if result > 0 { return Array(buffer[0..<result]) }
            if result == 0 { throw .closed }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { throw .io(Socket.errorText("recv")) }
            guard try Socket.wait(fd, events: Int16(POLLIN), deadline: deadline) else { throw .timedOut }
        }
    }

    public func write(_ bytes: [UInt8], deadline: Deadline?) throws(ConnectionError) {
        var offset = 0
        while offset < bytes.count {
            if closed.load(ordering: .acquiring) { throw .closed }
            let result = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if result > 0 {
                offset += result
                continue
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { throw .io(Socket.errorText("send")) }
            guard try Socket.wait(fd, events: Int16(POLLOUT), deadline: deadline) else { throw .timedOut }
        }
    }

    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// Dials a peer and completes the TLS handshake; the server's certificate MUST
/// name `expectedPeer` when given.
public func connectTLS(host: String, port: UInt16, context: TLSContext, expectedPeer: String?, deadline: Deadline) throws(ConnectionError) -> TLSConnection {
    let fd = try Socket.connect(host: host, port: port, deadline: deadline)
    return try TLSConnection.handshake(fd: fd, context: context, expectedPeer: expectedPeer, deadline: deadline)
}

/// Dials plain TCP (loopback dashboards and tests only).
public func connectPlain(host: String, port: UInt16, deadline: Deadline) throws(ConnectionError) -> PlainConnection {
    PlainConnection(fd: try Socket.connect(host: host, port: port, deadline: deadline))
}
