import COpenSSL
import CShims
import Glibc

/// OpenSSL writes to sockets with plain send(), so a peer that vanishes would
/// raise SIGPIPE and end the process. Lifeline handles EPIPE as an error value
/// instead: the first TLS context makes the process ignore SIGPIPE.
private let ignoreBrokenPipes: Void = {
    signal(SIGPIPE, SIG_IGN)
}()

/// An OpenSSL context for one side of mutually authenticated TLS 1.3: this node's
/// certificate and key, and the cluster CA that every peer's certificate must
/// chain to.
///
/// `@unchecked Sendable`: the SSL_CTX is configured once in `init` and only read
/// afterwards (OpenSSL documents SSL_CTX as safe to share once configured).
public final class TLSContext: @unchecked Sendable {
    public enum Role: Sendable { case server, client }

    let raw: OpaquePointer
    public let role: Role

    /// - Parameters:
    ///   - maxVersion: TEST ONLY override (e.g. TLS 1.2) to prove old clients are refused.
    public init(role: Role, caFile: String, certFile: String, keyFile: String, testingMaxVersion: Int32? = nil) throws(TLSError) {
        self.role = role
        ignoreBrokenPipes
        guard let context = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError(openSSLErrors("cannot create a TLS context"))
        }
        raw = context
        let tls13 = ll_TLS1_3_VERSION()
        let minimum = testingMaxVersion.map { min($0, tls13) } ?? tls13
        guard ll_SSL_CTX_set_min_proto_version(context, minimum) == 1,
            ll_SSL_CTX_set_max_proto_version(context, testingMaxVersion ?? tls13) == 1
        else {
            throw TLSError(openSSLErrors("cannot restrict the context to TLS 1.3"))
        }
        guard SSL_CTX_use_certificate_chain_file(context, certFile) == 1 else {
            throw TLSError(openSSLErrors("cannot load the certificate \(certFile)"))
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError(openSSLErrors("cannot load the private key \(keyFile)"))
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError(openSSLErrors("the key \(keyFile) does not match the certificate \(certFile)"))
        }
        guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
            throw TLSError(openSSLErrors("cannot load the cluster CA \(caFile)"))
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        _ = ll_SSL_CTX_set_mode(context, ll_SSL_MODE_ENABLE_PARTIAL_WRITE() | ll_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())
        _ = ll_SSL_CTX_set_session_cache_mode(context, 0)
    }

    deinit { SSL_CTX_free(raw) }
}
