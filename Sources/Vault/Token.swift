import Foundation
import Synchronization

/// What a token lets its holder be. The access matrix (which role may do what)
/// lives with the API; Vault only proves who the token was issued to.
public enum Role: String, CaseIterable, Hashable, Sendable, Codable {
    case agent, nurse, supervisor, auditor, ops, dashboard
}

/// The signed claims of a bearer token. Times are whole seconds since the Unix epoch.
public struct TokenClaims: Hashable, Sendable, Codable {
    /// Who: an opaque user id ("alice"), not a patient.
    public let subject: String
    public let role: Role
    /// The site the holder works at (routing preference, audit).
    public let site: String
    public let issuedAt: UInt64
    public let expiresAt: UInt64
    /// 16 random bytes, hex: the handle revocation uses.
    public let tokenID: String

    enum CodingKeys: String, CodingKey {
        case subject = "sub", role, site, issuedAt = "iat", expiresAt = "exp", tokenID = "jti"
    }
}

/// Why a token was refused. Never quotes the token (it is a credential).
public enum TokenError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Longer than `TokenVerifier.tokenBytesMax`: refused before any parsing.
    case oversized
    /// Not `ll1.<payload>.<signature>` with canonical base64url, or bad JSON claims.
    case malformed(String)
    /// The MAC does not match: tampered, or signed with another cluster's secret.
    case badSignature
    case expired
    /// Issued in the future (beyond the allowed clock skew).
    case notYetValid
    case unknownRole
    /// Its token id is in the revocation set.
    case revoked

    public var description: String {
        switch self {
        case .oversized: "token is longer than \(TokenVerifier.tokenBytesMax) bytes"
        case .malformed(let why): "malformed token: \(why)"
        case .badSignature: "token signature does not verify"
        case .expired: "token has expired"
        case .notYetValid: "token is not valid yet (issued in the future)"
        case .unknownRole: "token names an unknown role"
        case .revoked: "token was revoked"
        }
    }
}

/// Token text format, version 1:
///
///     ll1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "ll1." + <payload text>))>
///
/// base64url without padding. The MAC covers the exact payload text, so claims
/// need no canonical JSON; they are parsed only AFTER the MAC verifies.
enum TokenFormat {
    static let prefix = "ll1"
    static let macBytes = 32

    static func signingInput(payload: Substring) -> [UInt8] {
        Array((prefix + "." + payload).utf8)
    }

    static func unixSeconds(_ date: Date) -> UInt64 {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return seconds >= 1e18 ? UInt64(1e18) : UInt64(seconds)
    }

    static func validate(name: String, _ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= TokenVerifier.nameBytesMax else {
            return "\(name) must be 1...\(TokenVerifier.nameBytesMax) bytes"
        }
        guard value.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value < 0x7F }) else {
            return "\(name) must be printable ASCII without spaces"
        }
        return nil
    }
}

// MARK: - Signing

/// Issues tokens with the cluster's token secret. Runs where the key ring is
/// (`lifeline token issue`, or an ops endpoint later).
public struct TokenSigner: Sendable {
    let secret: SecretBytes

    init(secret: SecretBytes) { self.secret = secret }

    /// Signs claims for `subject`, valid from `now` for `ttlSeconds`
    /// (1...`TokenVerifier.ttlSecondsMax`). The token id is 16 fresh random bytes.
    public func issue(subject: String, role: Role, site: String, now: Date, ttlSeconds: UInt64) throws(TokenError) -> (token: String, claims: TokenClaims) {
        if let why = TokenFormat.validate(name: "subject", subject) ?? TokenFormat.validate(name: "site", site) {
            throw .malformed(why)
        }
        guard ttlSeconds > 0, ttlSeconds <= TokenVerifier.ttlSecondsMax else {
            throw .malformed("ttl must be 1...\(TokenVerifier.ttlSecondsMax) seconds")
        }
        let tokenID: [UInt8]
        do throws(VaultError) { tokenID = try SecureRandom.bytes(16) } catch { throw .malformed("cannot draw a token id: \(error.reason)") }
        let issuedAt = TokenFormat.unixSeconds(now)
        let claims = TokenClaims(subject: subject, role: role, site: site, issuedAt: issuedAt,
                                 expiresAt: issuedAt + ttlSeconds, tokenID: tokenID.map { String(format: "%02x", $0) }.joined())
        return (sign(claims), claims)
    }

    /// The token text for `claims`, unchecked (tests use it to forge odd claims).
    func sign(_ claims: TokenClaims) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding a struct of strings and integers cannot fail.
        let json = (try? encoder.encode(claims)).map { Array($0) } ?? []
        precondition(!json.isEmpty, "token claims did not encode")
        return sign(payloadJSON: json)
    }

    func sign(payloadJSON: [UInt8]) -> String {
        let payload = Base64.encode(payloadJSON, urlSafe: true)
        let mac = Digest.hmacSHA256(key: secret, data: TokenFormat.signingInput(payload: payload[...]))
        return TokenFormat.prefix + "." + payload + "." + Base64.encode(mac, urlSafe: true)
    }
}

// MARK: - Verifying

/// Checks tokens on every API call. The caller passes the time and the
/// (replicated) revocation set; both are checked on every call.
///
/// A token whose exact text verified before skips the MAC and the claims parsing
/// (`VerifiedTokens`): a client sends the same token with every request, and
/// HMAC, base64 and JSON decoding were a fifth of a loaded leader's CPU.
public struct TokenVerifier: Sendable {
    /// Longest token accepted, in bytes; checked before anything else.
    public static let tokenBytesMax = 1024
    /// Longest subject or site, in bytes.
    public static let nameBytesMax = 128
    /// Longest lifetime a token may claim: 7 days (revocation covers the rest).
    public static let ttlSecondsMax: UInt64 = 7 * 86_400
    /// Clock difference between nodes tolerated for `iat`, in seconds.
    public static let clockSkewSecondsMax: UInt64 = 60

    let secret: SecretBytes
    let verified = VerifiedTokens()

    init(secret: SecretBytes) { self.secret = secret }

    /// The claims of a valid token. Checks, in order: size, shape, MAC (constant
    /// time), claims (these four once per token text), time window, revocation.
    /// Never traps on any input.
    public func verify(_ token: String, now: Date, revoked: Set<String> = []) throws(TokenError) -> TokenClaims {
        guard token.utf8.count <= Self.tokenBytesMax else { throw .oversized }
        let claims: TokenClaims
        if let known = verified.claims(of: token) {
            claims = known
        } else {
            claims = try authenticate(token)
            verified.remember(token, claims)
        }
        let nowSeconds = TokenFormat.unixSeconds(now)
        guard claims.issuedAt <= nowSeconds + Self.clockSkewSecondsMax else { throw .notYetValid }
        guard nowSeconds < claims.expiresAt else { throw .expired }
        guard !revoked.contains(claims.tokenID) else { throw .revoked }
        return claims
    }

    /// Shape, MAC and claims of `token`: what does not change with time.
    private func authenticate(_ token: String) throws(TokenError) -> TokenClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == TokenFormat.prefix else { throw .malformed("want ll1.<payload>.<signature>") }
        guard let mac = Base64.decode(parts[2], urlSafe: true), mac.count == TokenFormat.macBytes else {
            throw .malformed("signature is not base64url of \(TokenFormat.macBytes) bytes")
        }
        let expected = Digest.hmacSHA256(key: secret, data: TokenFormat.signingInput(payload: parts[1]))
        guard Digest.constantTimeEqual(mac, expected) else { throw .badSignature }
        guard let json = Base64.decode(parts[1], urlSafe: true) else { throw .malformed("payload is not base64url") }
        return try Self.parseClaims(json)
    }

    private struct RawClaims: Decodable {
        var sub: String
        var role: String
        var site: String
        var iat: UInt64
        var exp: UInt64
        var jti: String
    }

    static func parseClaims(_ json: [UInt8]) throws(TokenError) -> TokenClaims {
        let raw: RawClaims
        do { raw = try JSONDecoder().decode(RawClaims.self, from: Data(json)) } catch { throw .malformed("claims are not the expected JSON") }
        guard let role = Role(rawValue: raw.role) else { throw .unknownRole }
        if let why = TokenFormat.validate(name: "subject", raw.sub) ?? TokenFormat.validate(name: "site", raw.site) {
            throw .malformed(why)
        }
        guard raw.jti.utf8.count == 32, raw.jti.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw .malformed("token id must be 32 lowercase hex digits")
        }
        guard raw.exp > raw.iat, raw.exp - raw.iat <= ttlSecondsMax else {
            throw .malformed("lifetime must be 1...\(ttlSecondsMax) seconds")
        }
        return TokenClaims(subject: raw.sub, role: role, site: raw.site, issuedAt: raw.iat, expiresAt: raw.exp, tokenID: raw.jti)
    }
}

/// Token texts whose MAC and claims verified, with their claims. Only the exact
/// text hits, so a forged or altered token is always checked in full; the time
/// window and revocation are the caller's, per request. Bounded: when full it is
/// emptied (a node serves a few thousand desks; a refill costs one HMAC each).
final class VerifiedTokens: Sendable {
    static let entriesMax = 4_096
    private let entries = ReadMostly<[String: TokenClaims]>([:])

    func claims(of token: String) -> TokenClaims? {
        entries.read { $0[token] }
    }

    func remember(_ token: String, _ claims: TokenClaims) {
        entries.write { entries in
            if entries.count >= Self.entriesMax { entries.removeAll(keepingCapacity: true) }
            entries[token] = claims
        }
    }

    var count: Int { entries.read { $0.count } }
}
