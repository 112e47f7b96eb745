import Foundation

/// The cluster's secrets: every version of the key-encryption key (KEK), which
/// one is active, and the token-signing secret.
///
/// Key hierarchy: KEK (this ring, one file per node, 0600) wraps per-patient
/// data keys (`WrappedKey`, replicated state) which seal PHI fields
/// (`SealedField`, replicated state). Only the ring is secret at rest; the log,
/// snapshots and backups hold wrapped keys and ciphertext only.
///
/// Contract: old KEK versions MUST stay in the ring until every wrapped key that
/// names them has been re-wrapped (`PatientKeyStore.staleWrappedKeys`), or those
/// patients' records become unreadable (`.unknownKeyVersion`). Retiring a
/// version (`retiring`) removes its key on purpose and keeps a tombstone, so
/// what it wrapped fails with `.retiredKeyVersion` and the retirement date.
public struct KeyRing: Sendable {
    /// One KEK version.
    public struct Version: Sendable {
        public let version: UInt32
        /// ISO 8601 creation time, for operators.
        public let created: String
        let key: SecretBytes
    }

    /// A KEK version removed from the ring on purpose: no key, only the dates.
    public struct Retired: Sendable, Equatable {
        public let version: UInt32
        /// ISO 8601 creation time of the destroyed key.
        public let created: String
        /// ISO 8601 time it was retired.
        public let retired: String
    }

    /// File format written and accepted.
    public static let format = 1
    /// Most KEK versions a ring may hold (a rotation a month for 20 years fits).
    public static let versionsMax = 256
    /// Longest cluster id, in UTF-8 bytes.
    public static let clusterIDBytesMax = 128

    public let clusterID: String
    /// Ascending by version, never empty.
    public private(set) var versions: [Version]
    /// The version new data keys are wrapped under.
    public private(set) var activeVersion: UInt32
    /// Tombstones of retired versions, ascending; never one of `versions`.
    public private(set) var retired: [Retired]
    /// HMAC-SHA256 key for bearer tokens (see `TokenSigner`).
    let tokenSecret: SecretBytes

    init(clusterID: String, versions: [Version], activeVersion: UInt32, tokenSecret: SecretBytes, retired: [Retired] = []) {
        precondition(!versions.isEmpty, "a key ring needs at least one KEK version")
        precondition(versions.contains { $0.version == activeVersion }, "active KEK version \(activeVersion) missing from ring")
        precondition(retired.allSatisfy { tombstone in !versions.contains { $0.version == tombstone.version } },
                     "a retired KEK version is still in the ring: retired \(retired.map(\.version)), keys \(versions.map(\.version))")
        self.clusterID = clusterID
        self.versions = versions
        self.activeVersion = activeVersion
        self.tokenSecret = tokenSecret
        self.retired = retired
    }

    // MARK: - Creating and rotating

    /// A new ring: KEK version 1 and a token secret, 32 random bytes each.
    public static func generate(clusterID: String, now: Date) throws(VaultError) -> KeyRing {
        try validate(clusterID: clusterID)
        let first = Version(version: 1, created: timestamp(now), key: try SecretBytes(randomCount: AESGCM.keyBytes))
        return KeyRing(clusterID: clusterID, versions: [first], activeVersion: 1,
                       tokenSecret: try SecretBytes(randomCount: AESGCM.keyBytes))
    }

    /// This ring plus a fresh KEK version, which becomes active. Old versions stay
    /// so existing wrapped keys still unwrap until they are re-wrapped.
    public func rotated(now: Date) throws(VaultError) -> KeyRing {
        guard versions.count < Self.versionsMax else {
            throw VaultError(.tooLarge, "key ring already holds \(versions.count) versions, limit \(Self.versionsMax)")
        }
        // Never reuse a retired number: a tombstone must keep meaning one key.
        let next = max(versions.map(\.version).max() ?? 0, retired.map(\.version).max() ?? 0) + 1
        var copy = self
        copy.versions.append(Version(version: next, created: Self.timestamp(now), key: try SecretBytes(randomCount: AESGCM.keyBytes)))
        copy.activeVersion = next
        return copy
    }

    /// This ring without KEK version `version`, which leaves a tombstone dated
    /// `now`. Whatever that version wrapped (data keys in old backups and
    /// snapshots) can never be unwrapped again with this ring.
    ///
    /// Refuses (`.keyRing`) the active version, the newest version, a version
    /// already retired (naming its date) and one the ring never had. The
    /// caller MUST first make sure no live data key is wrapped under it
    /// (`GET /v1/keys/usage`): this check cannot see the cluster.
    public func retiring(version: UInt32, now: Date) throws(VaultError) -> KeyRing {
        if let tombstone = retired.first(where: { $0.version == version }) {
            throw VaultError(.keyRing, "KEK version \(version) was already retired on \(tombstone.retired)")
        }
        guard versions.contains(where: { $0.version == version }) else {
            throw VaultError(.keyRing, "KEK version \(version) is not in the key ring of cluster \(clusterID) (have \(versions.map(\.version)))")
        }
        guard version != activeVersion else {
            throw VaultError(.keyRing, "KEK version \(version) is the active version; rotate first, re-wrap, then retire the old one")
        }
        guard version != versions.map(\.version).max() else {
            throw VaultError(.keyRing, "KEK version \(version) is the newest version; only older versions can be retired")
        }
        guard retired.count < Self.versionsMax else {
            throw VaultError(.tooLarge, "key ring already holds \(retired.count) retired versions, limit \(Self.versionsMax)")
        }
        var copy = self
        let removed = copy.versions.first { $0.version == version }!
        copy.versions.removeAll { $0.version == version }
        copy.retired.append(Retired(version: version, created: removed.created, retired: Self.timestamp(now)))
        copy.retired.sort { $0.version < $1.version }
        return copy
    }

    /// Throws unless `newer` may replace this ring in a running node (a reload):
    /// the same cluster and token secret (tokens already issued stay valid);
    /// every version this ring holds is still there with the same key, or is
    /// retired in `newer` with a tombstone; no tombstone is dropped; the active
    /// version does not go back. An out-of-date copy or another cluster's file
    /// is refused, so a reload can never make a stored data key unopenable
    /// except by a deliberate retirement.
    public func checkReplacement(_ newer: KeyRing) throws(VaultError) {
        guard newer.clusterID == clusterID else {
            throw VaultError(.keyRing, "the new key ring belongs to cluster '\(newer.clusterID)', this node runs cluster '\(clusterID)'")
        }
        guard newer.tokenSecret.constantTimeEquals(tokenSecret) else {
            throw VaultError(.keyRing, "the new key ring has another token secret (every issued token would stop working); restart the node to change it")
        }
        for version in versions {
            if let kept = newer.versions.first(where: { $0.version == version.version }) {
                guard kept.key.constantTimeEquals(version.key) else {
                    throw VaultError(.keyRing, "KEK version \(version.version) has another key in the new ring: it is not a copy of this cluster's ring")
                }
            } else if !newer.retired.contains(where: { $0.version == version.version }) {
                throw VaultError(.keyRing, "KEK version \(version.version) is missing from the new ring without a tombstone; data keys wrapped under it would become unreadable")
            }
        }
        for tombstone in retired where !newer.retired.contains(where: { $0.version == tombstone.version }) {
            throw VaultError(.keyRing, "the new ring has lost the tombstone of retired KEK version \(tombstone.version): it is an older copy")
        }
        guard newer.activeVersion >= activeVersion else {
            throw VaultError(.keyRing, "the new ring's active KEK version \(newer.activeVersion) is older than this node's \(activeVersion): it is an older copy")
        }
    }

    /// The token signer and verifier for this cluster's secret.
    public var tokenSigner: TokenSigner { TokenSigner(secret: tokenSecret) }
    public var tokenVerifier: TokenVerifier { TokenVerifier(secret: tokenSecret) }

    // MARK: - Wrapping

    /// Encrypts `dataKey` under the active KEK, bound to `patient`.
    func wrap(_ dataKey: DataKey, patient: PatientID) throws(VaultError) -> WrappedKey {
        let kek = try key(version: activeVersion)
        let aad = WrappedKey.aad(patient: patient, kekVersion: activeVersion, dataKeyVersion: dataKey.version)
        let sealed = try dataKey.secret.withUnsafeBytes { plaintext throws(VaultError) in
            try AESGCM.seal(key: kek, plaintext: plaintext, aad: aad)
        }
        return WrappedKey(kekVersion: activeVersion, dataKeyVersion: dataKey.version, sealed: sealed)
    }

    /// Decrypts a wrapped data key straight into a wiped-on-release buffer.
    func unwrap(_ wrapped: WrappedKey, patient: PatientID) throws(VaultError) -> DataKey {
        let kek = try key(version: wrapped.kekVersion)
        guard wrapped.ciphertext.count == AESGCM.keyBytes else {
            throw VaultError(.malformed, "wrapped key for patient \(patient) has \(wrapped.ciphertext.count) key bytes")
        }
        let aad = WrappedKey.aad(patient: patient, kekVersion: wrapped.kekVersion, dataKeyVersion: wrapped.dataKeyVersion)
        var failure: VaultError?
        let secret = SecretBytes(count: AESGCM.keyBytes) { out in
            do throws(VaultError) {
                try AESGCM.open(key: kek, nonce: wrapped.nonce, ciphertext: wrapped.ciphertext, tag: wrapped.tag, aad: aad, into: out)
            } catch {
                failure = error
            }
        }
        if let failure {
            guard failure.code == .authenticationFailed else { throw failure }
            throw VaultError(.authenticationFailed, "data key of patient \(patient) did not unwrap under KEK version \(wrapped.kekVersion) (wrong KEK, tampered, or another patient's key)")
        }
        return DataKey(version: wrapped.dataKeyVersion, secret: secret)
    }

    /// The same data key, re-wrapped under the active KEK. Record ciphertext is
    /// untouched: the data key (and its version) does not change.
    public func rewrap(_ wrapped: WrappedKey, patient: PatientID) throws(VaultError) -> WrappedKey {
        try wrap(try unwrap(wrapped, patient: patient), patient: patient)
    }

    func key(version: UInt32) throws(VaultError) -> SecretBytes {
        if let tombstone = retired.first(where: { $0.version == version }) {
            throw VaultError(.retiredKeyVersion, "key version \(version) was retired on \(tombstone.retired): data keys wrapped under it can never be opened")
        }
        guard let found = versions.first(where: { $0.version == version }) else {
            throw VaultError(.unknownKeyVersion, "KEK version \(version) is not in the key ring of cluster \(clusterID) (have \(versions.map(\.version)))")
        }
        return found.key
    }

    // MARK: - Helpers

    static func validate(clusterID: String) throws(VaultError) {
        guard !clusterID.isEmpty, clusterID.utf8.count <= clusterIDBytesMax,
              clusterID.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
            throw VaultError(.keyRing, "cluster id must be 1...\(clusterIDBytesMax) printable ASCII characters without spaces")
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}
