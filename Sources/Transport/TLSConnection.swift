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
///
/// After the handshake OpenSSL writes into a memory BIO, not the socket: the
/// ciphertext is moved to `lock`'s outbox under the lock, and sent to the
/// socket under `sending` only, so a reader never waits for a writer's send
/// system call (it did, for every request, once the HTTP server answered
/// from a writer thread while the connection's thread read the next request).
public final class TLSConnection: Connection, @unchecked Sendable {
    private let ssl: OpaquePointer
    private let fd: Int32
    /// The memory BIO OpenSSL writes to (owned by `ssl`).
    private let output: OpaquePointer
    /// Held for every SSL call; guards the ciphertext not yet taken for sending.
    private let lock = Mutex<[UInt8]>([])
    /// Held while ciphertext goes to the socket: one sender at a time, in order.
    private let sending = Mutex<Void>(())
    private let closed = Atomic<Bool>(false)
    /// The last read filled the caller's buffer, so OpenSSL may hold more of a
    /// record; otherwise every byte it has is in the socket (no read-ahead).
    /// Touched by the one reader only.
    private var readMayHavePending = true
    public let peerNames: [String]
    public let remoteAddress: String

    /// The largest single read, to bound memory per call.
    public static let readBytesMax = 1 << 20

    /// Plaintext encrypted per step of a long write before it is sent, so a large
    /// frame does not sit in memory twice.
    static let writeStepBytes = 256 * 1024

    private init(ssl: OpaquePointer, fd: Int32, output: OpaquePointer, peerNames: [String], remoteAddress: String) {
        self.ssl = ssl
        self.fd = fd
        self.output = output
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
        guard let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            Glibc.close(fd)
            throw .handshake(openSSLErrors("BIO_new"))
        }
        // The socket BIO stays for reading; its write reference is released here.
        SSL_set0_wbio(ssl, output)
        let connection = TLSConnection(ssl: ssl, fd: fd, output: output, peerNames: names, remoteAddress: remote)
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
        // Wait for bytes before taking the lock: an SSL_read on an empty socket
        // only finds EAGAIN, and it held the lock a writer on another thread
        // needed (both showed up per request once answers were written from a
        // writer thread).
        if !readMayHavePending {
            if closed.load(ordering: .acquiring) { throw .closed }
            guard try Socket.wait(fd, events: Int16(POLLIN), deadline: deadline) else { throw .timedOut }
        }
        while true {
            let (bytes, code) = try readStep(count, deadline: deadline)
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

    public func readAvailable(maxBytes: Int) throws(ConnectionError) -> [UInt8] {
        let count = min(max(1, maxBytes), Self.readBytesMax)
        let (bytes, code) = try readStep(count, deadline: Deadline(uptimeNs: 0))
        if !bytes.isEmpty { return bytes }
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return []
        case SSL_ERROR_ZERO_RETURN:
            throw .closed
        default:
            if closed.load(ordering: .acquiring) { throw .closed }
            let detail = openSSLErrors("read")
            throw detail == "read" ? .closed : .io(detail)
        }
    }

    public var descriptor: Int32 { fd }

    /// One SSL_read of up to `count` bytes under the lock: the plaintext, or
    /// none and OpenSSL's error code. Sends what reading produced (a key
    /// update's answer, an alert) before returning.
    private func readStep(_ count: Int, deadline: Deadline?) throws(ConnectionError) -> ([UInt8], Int32) {
        if closed.load(ordering: .acquiring) { throw .closed }
        // SSL_read writes straight into the array's uninitialized storage: no
        // zero fill and no copy per read (both showed up per request).
        var code: Int32 = 0
        var replied = false
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { storage, initialized in
            let result = lock.withLock { outbox in
                ERR_clear_error()
                let result = SSL_read(ssl, storage.baseAddress, Int32(count))
                code = result > 0 ? 0 : SSL_get_error(ssl, result)
                // Reading may answer the peer (a key update, an alert).
                replied = Self.take(output, into: &outbox)
                return result
            }
            initialized = result > 0 ? Int(result) : 0
        }
        if replied {
            do {
                try send(deadline: deadline)
            } catch where error == .timedOut {
                // Still queued: the next write sends it first.
            }
        }
        // A full buffer: OpenSSL may hold more of the record. Otherwise every
        // byte it has was taken, and the next read waits on the socket.
        readMayHavePending = bytes.count == count
        return (bytes, code)
    }

    public func write(_ bytes: [UInt8], from offset: inout Int, deadline: Deadline?) throws(ConnectionError) {
        // Ciphertext a write that timed out left behind goes first.
        try send(deadline: deadline)
        while offset < bytes.count {
            if closed.load(ordering: .acquiring) { throw .closed }
            let start = offset
            let step = min(bytes.count - start, Self.writeStepBytes)
            // Into the memory BIO: never blocks, so the lock is held for the
            // encryption only.
            let (result, code) = lock.withLock { outbox in
                ERR_clear_error()
                let result = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + start, Int32(step)) }
                let code = result > 0 ? 0 : SSL_get_error(ssl, result)
                _ = Self.take(output, into: &outbox)
                return (result, code)
            }
            guard result > 0 else {
                if code == SSL_ERROR_WANT_READ {
                    guard try Socket.wait(fd, events: Int16(POLLIN), deadline: deadline) else { throw .timedOut }
                    continue
                }
                throw .io(openSSLErrors("write"))
            }
            offset += Int(result)
            try send(deadline: deadline)
        }
    }

    /// Moves what OpenSSL wrote to the memory BIO to the end of `outbox`; true
    /// if there was any. Called with `lock` held.
    private static func take(_ output: OpaquePointer, into outbox: inout [UInt8]) -> Bool {
        let pending = Int(BIO_ctrl_pending(output))
        guard pending > 0 else { return false }
        let start = outbox.count
        outbox.reserveCapacity(start + pending)
        var moved = 0
        outbox.append(contentsOf: repeatElement(0, count: pending))
        outbox.withUnsafeMutableBytes { storage in
            moved = Int(BIO_read(output, storage.baseAddress! + start, Int32(pending)))
        }
        outbox.removeLast(pending - max(moved, 0))
        return moved > 0
    }

    /// Sends all ciphertext taken so far to the socket, in order, holding
    /// `sending` but not `lock`. On a timeout or error what is left goes back
    /// to the front of the outbox.
    private func send(deadline: Deadline?) throws(ConnectionError) {
        try sending.withLock { _ throws(ConnectionError) in
            let data = lock.withLock { outbox -> [UInt8] in
                defer { outbox.removeAll(keepingCapacity: true) }
                return outbox
            }
            var sent = 0
            do throws(ConnectionError) {
                while sent < data.count {
                    if closed.load(ordering: .acquiring) { throw ConnectionError.closed }
                    let from = sent
                    let result = data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + from, data.count - from, Int32(MSG_NOSIGNAL)) }
                    if result > 0 {
                        sent += result
                        continue
                    }
                    guard result < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                        throw ConnectionError.io(Socket.errorText("send"))
                    }
                    guard try Socket.wait(fd, events: Int16(POLLOUT), deadline: deadline) else { throw ConnectionError.timedOut }
                }
            } catch {
                let rest = data[sent...]
                lock.withLock { $0.insert(contentsOf: rest, at: 0) }
                throw error
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

    public func readAvailable(maxBytes: Int) throws(ConnectionError) -> [UInt8] {
        if closed.load(ordering: .acquiring) { throw .closed }
        let count = min(max(1, maxBytes), TLSConnection.readBytesMax)
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { storage, initialized in
            let result = recv(fd, storage.baseAddress, count, Int32(MSG_DONTWAIT))
            initialized = max(0, result)
            failure = result < 0 ? errno : 0
            if result == 0 { failure = -1 }
        }
        if !bytes.isEmpty { return bytes }
        if failure == -1 { throw .closed }
        guard failure == EAGAIN || failure == EWOULDBLOCK || failure == EINTR else {
            errno = failure
            throw .io(Socket.errorText("recv"))
        }
        return []
    }

    public var descriptor: Int32 { fd }

    public func write(_ bytes: [UInt8], from offset: inout Int, deadline: Deadline?) throws(ConnectionError) {
        while offset < bytes.count {
            if closed.load(ordering: .acquiring) { throw .closed }
            let start = offset
            let result = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + start, bytes.count - start, Int32(MSG_NOSIGNAL)) }
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
