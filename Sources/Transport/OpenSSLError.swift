import COpenSSL

/// Drains OpenSSL's thread-local error queue into one readable line. Called once,
/// at the boundary, whenever an OpenSSL call fails.
func openSSLErrors(_ context: String) -> String {
    var reasons: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return reasons.isEmpty ? context : "\(context): \(reasons.joined(separator: "; "))"
}

/// Why TLS material could not be loaded or made.
public struct TLSError: Error, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
