import Foundation
import Testing
@testable import Vault

@Suite struct TokenTests {
    let now = Fixture.now

    func issue(_ ring: KeyRing, ttl: UInt64 = 8 * 3600) throws -> (token: String, claims: TokenClaims) {
        try ring.tokenSigner.issue(subject: "alice", role: .agent, site: "boston", now: now, ttlSeconds: ttl)
    }

    func verifyError(_ token: String, _ ring: KeyRing, at time: Date? = nil, revoked: Set<String> = []) -> TokenError? {
        do throws(TokenError) {
            _ = try ring.tokenVerifier.verify(token, now: time ?? now, revoked: revoked)
            return nil
        } catch {
            return error
        }
    }

    @Test func roundTrip() throws {
        let ring = try Fixture.ring()
        let (token, claims) = try issue(ring)
        #expect(token.hasPrefix("ll1."))
        #expect(token.split(separator: ".").count == 3)
        let verified = try ring.tokenVerifier.verify(token, now: now.addingTimeInterval(60))
        #expect(verified == claims)
        #expect(verified.subject == "alice" && verified.role == .agent && verified.site == "boston")
        #expect(verified.expiresAt - verified.issuedAt == 8 * 3600)
        #expect(verified.tokenID.count == 32)
        // Every issue draws a fresh token id.
        #expect(try issue(ring).claims.tokenID != claims.tokenID)
    }

    @Test func expiryAndNotYetValid() throws {
        let ring = try Fixture.ring()
        let (token, _) = try issue(ring, ttl: 100)
        #expect(verifyError(token, ring, at: now.addingTimeInterval(99)) == nil)
        #expect(verifyError(token, ring, at: now.addingTimeInterval(100)) == .expired)
        #expect(verifyError(token, ring, at: now.addingTimeInterval(-30)) == nil)  // within clock skew
        #expect(verifyError(token, ring, at: now.addingTimeInterval(-61)) == .notYetValid)
    }

    /// One verifier, as the API keeps it: after a token verified once (and its
    /// claims are remembered), expiry, revocation and forgery are still caught.
    @Test func aRememberedTokenIsStillCheckedForTimeRevocationAndForgery() throws {
        let ring = try Fixture.ring()
        let verifier = ring.tokenVerifier
        let (token, claims) = try issue(ring, ttl: 100)
        #expect(try verifier.verify(token, now: now) == claims)
        #expect(verifier.verified.count == 1)
        #expect(throws: TokenError.expired) { try verifier.verify(token, now: now.addingTimeInterval(100)) }
        #expect(throws: TokenError.notYetValid) { try verifier.verify(token, now: now.addingTimeInterval(-61)) }
        #expect(throws: TokenError.revoked) { try verifier.verify(token, now: now, revoked: [claims.tokenID]) }
        let parts = token.split(separator: ".").map(String.init)
        let otherMAC = Base64.encode([UInt8](repeating: 7, count: TokenFormat.macBytes), urlSafe: true)
        #expect(throws: TokenError.badSignature) { try verifier.verify(parts[0] + "." + parts[1] + "." + otherMAC, now: now) }
        #expect(try verifier.verify(token, now: now.addingTimeInterval(99)) == claims)
    }

    @Test func theRememberedTokensAreBounded() throws {
        let ring = try Fixture.ring()
        let verifier = ring.tokenVerifier
        for _ in 0..<(VerifiedTokens.entriesMax + 10) {
            _ = try verifier.verify(try issue(ring).token, now: now)
        }
        #expect(verifier.verified.count <= VerifiedTokens.entriesMax)
    }

    @Test func tamperedPayloadIsRejected() throws {
        let ring = try Fixture.ring()
        let (token, claims) = try issue(ring)
        let parts = token.split(separator: ".").map(String.init)
        // Re-encode the claims as a supervisor, keep the old signature.
        let forged = """
            {"exp":\(claims.expiresAt),"iat":\(claims.issuedAt),"jti":"\(claims.tokenID)","role":"supervisor","site":"boston","sub":"alice"}
            """
        let forgedToken = parts[0] + "." + Base64.encode(Array(forged.utf8), urlSafe: true) + "." + parts[2]
        #expect(verifyError(forgedToken, ring) == .badSignature)
        // Every single-character change in the payload is caught.
        for index in parts[1].indices {
            var payload = Array(parts[1])
            let position = parts[1].distance(from: parts[1].startIndex, to: index)
            payload[position] = payload[position] == "A" ? "B" : "A"
            let error = verifyError(parts[0] + "." + String(payload) + "." + parts[2], ring)
            #expect(error == .badSignature || error.map { if case .malformed = $0 { true } else { false } } == true)
        }
    }

    @Test func tamperedSignatureIsRejected() throws {
        let ring = try Fixture.ring()
        let (token, _) = try issue(ring)
        var mac = Base64.decode(token.split(separator: ".")[2], urlSafe: true)!
        for index in mac.indices {
            mac[index] ^= 0x01
            let parts = token.split(separator: ".")
            let tampered = parts[0] + "." + parts[1] + "." + Base64.encode(mac, urlSafe: true)
            #expect(verifyError(String(tampered), ring) == .badSignature)
            mac[index] ^= 0x01
        }
    }

    @Test func wrongSecretIsRejected() throws {
        let (token, _) = try issue(try Fixture.ring())
        #expect(verifyError(token, try Fixture.ring()) == .badSignature)
    }

    @Test func revokedTokenIsRejected() throws {
        let ring = try Fixture.ring()
        let (token, claims) = try issue(ring)
        #expect(verifyError(token, ring, revoked: ["00000000000000000000000000000000"]) == nil)
        #expect(verifyError(token, ring, revoked: [claims.tokenID]) == .revoked)
    }

    @Test func signedButInvalidClaimsAreRejected() throws {
        let ring = try Fixture.ring()
        let signer = ring.tokenSigner
        let iat = TokenFormat.unixSeconds(now)
        func token(_ json: String) -> String { signer.sign(payloadJSON: Array(json.utf8)) }
        let jti = String(repeating: "ab", count: 16)
        #expect(verifyError(token("{\"sub\":\"a\",\"role\":\"janitor\",\"site\":\"b\",\"iat\":\(iat),\"exp\":\(iat + 60),\"jti\":\"\(jti)\"}"), ring) == .unknownRole)
        let cases = [
            "[]",
            "{\"sub\":\"a\"}",
            "{\"sub\":\"\",\"role\":\"agent\",\"site\":\"b\",\"iat\":\(iat),\"exp\":\(iat + 60),\"jti\":\"\(jti)\"}",
            "{\"sub\":\"a b\",\"role\":\"agent\",\"site\":\"b\",\"iat\":\(iat),\"exp\":\(iat + 60),\"jti\":\"\(jti)\"}",
            "{\"sub\":\"a\",\"role\":\"agent\",\"site\":\"b\",\"iat\":\(iat),\"exp\":\(iat),\"jti\":\"\(jti)\"}",
            "{\"sub\":\"a\",\"role\":\"agent\",\"site\":\"b\",\"iat\":\(iat),\"exp\":\(iat + 8 * 86_400),\"jti\":\"\(jti)\"}",
            "{\"sub\":\"a\",\"role\":\"agent\",\"site\":\"b\",\"iat\":\(iat),\"exp\":\(iat + 60),\"jti\":\"XYZ\"}",
            "{\"sub\":\"a\",\"role\":\"agent\",\"site\":\"b\",\"iat\":-1,\"exp\":\(iat + 60),\"jti\":\"\(jti)\"}",
        ]
        for json in cases {
            let error = verifyError(token(json), ring)
            #expect(error.map { if case .malformed = $0 { true } else { false } } == true, "\(json)")
        }
    }

    @Test func issueRefusesBadInput() throws {
        let signer = try Fixture.ring().tokenSigner
        #expect(throws: TokenError.self) { try signer.issue(subject: "", role: .agent, site: "b", now: now, ttlSeconds: 60) }
        #expect(throws: TokenError.self) { try signer.issue(subject: "a", role: .agent, site: "b c", now: now, ttlSeconds: 60) }
        #expect(throws: TokenError.self) { try signer.issue(subject: "a", role: .agent, site: "b", now: now, ttlSeconds: 0) }
        #expect(throws: TokenError.self) { try signer.issue(subject: "a", role: .agent, site: "b", now: now, ttlSeconds: TokenVerifier.ttlSecondsMax + 1) }
    }

    @Test func garbageNeverTraps() throws {
        let ring = try Fixture.ring()
        let verifier = ring.tokenVerifier
        let (token, _) = try issue(ring)
        #expect(verifyError(String(repeating: "a", count: TokenVerifier.tokenBytesMax + 1), ring) == .oversized)
        for text in ["", ".", "..", "ll1..", "ll1.a.b", "ll2." + token.dropFirst(4), token + ".", token + "=", "ll1.\u{0}.\u{0}", "ll1.é.ü"] {
            #expect(throws: TokenError.self) { try verifier.verify(text, now: now) }
        }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ll1.abcXYZ-_=+/\u{0}é.")
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...200, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(throws: TokenError.self) { try verifier.verify(String(decoding: bytes, as: UTF8.self), now: now) }
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            #expect(throws: TokenError.self) { try verifier.verify(text, now: now) }
        }
        // Extreme clocks do not trap either.
        for time in [Date.distantPast, Date.distantFuture, Date(timeIntervalSince1970: .infinity), Date(timeIntervalSince1970: .nan)] {
            _ = try? verifier.verify(token, now: time)
        }
    }
}
