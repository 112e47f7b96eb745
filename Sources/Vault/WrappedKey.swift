/// A patient's data key (32 random bytes), in memory only. It is never written
/// anywhere unwrapped: what persists and replicates is its `WrappedKey`.
struct DataKey: Sendable {
    /// Generation of this patient's data key; sealed fields name it.
    let version: UInt32
    let secret: SecretBytes

    static func generate(version: UInt32) throws(VaultError) -> DataKey {
        DataKey(version: version, secret: try SecretBytes(randomCount: AESGCM.keyBytes))
    }

    func seal(_ value: [UInt8], field: String, patient: PatientID) throws(VaultError) -> SealedField {
        guard value.count <= SealedField.plaintextBytesMax else {
            throw VaultError(.tooLarge, "field \(field) is \(value.count) bytes, limit \(SealedField.plaintextBytesMax)")
        }
        let aad = SealedField.aad(patient: patient, field: field, keyVersion: version)
        // Array.withUnsafeBytes rethrows untyped errors: carry the typed one in a Result.
        let sealed = try value.withUnsafeBytes { plaintext in
            Result { () throws(VaultError) in try AESGCM.seal(key: secret, plaintext: plaintext, aad: aad) }
        }.get()
        return SealedField(keyVersion: version, sealed: sealed)
    }

    func open(_ field: SealedField, name: String, patient: PatientID) throws(VaultError) -> [UInt8] {
        guard field.keyVersion == version else {
            throw VaultError(.unknownKeyVersion, "field \(name) of patient \(patient) names data key version \(field.keyVersion); the patient's key is version \(version)")
        }
        let aad = SealedField.aad(patient: patient, field: name, keyVersion: field.keyVersion)
        do throws(VaultError) {
            return try AESGCM.open(key: secret, nonce: field.nonce, ciphertext: field.ciphertext, tag: field.tag, aad: aad)
        } catch {
            guard error.code == .authenticationFailed else { throw error }
            throw VaultError(.authenticationFailed, "field \(name) of patient \(patient) failed authentication (tampered, or moved from another patient or field)")
        }
    }
}

/// A patient's data key encrypted (AES-256-GCM) under one version of the
/// cluster key-encryption key. This is what the replicated state stores.
///
/// Encoding (`encoded()`), big-endian, 69 bytes:
///
///     formatVersion u8 (= 1) | kekVersion u32 | dataKeyVersion u32 | nonce [12] | wrapped key [32] | tag [16]
///
/// AAD = "lifeline.wrap.v1" | len-prefixed patient id | kekVersion u32 | dataKeyVersion u32,
/// so a wrapped key copied to another patient, or relabelled, does not unwrap.
public struct WrappedKey: Hashable, Sendable, Codable {
    public static let formatVersion: UInt8 = 1
    public static let encodedBytes = 1 + 4 + 4 + AESGCM.nonceBytes + AESGCM.keyBytes + AESGCM.tagBytes

    /// The KEK version that wrapped it (rotation changes this).
    public let kekVersion: UInt32
    /// The data key's own generation (rotation does NOT change this).
    public let dataKeyVersion: UInt32
    public let nonce: [UInt8]
    public let ciphertext: [UInt8]
    public let tag: [UInt8]

    init(kekVersion: UInt32, dataKeyVersion: UInt32, sealed: AESGCM.Sealed) {
        self.kekVersion = kekVersion
        self.dataKeyVersion = dataKeyVersion
        nonce = sealed.nonce
        ciphertext = sealed.ciphertext
        tag = sealed.tag
    }

    static func aad(patient: PatientID, kekVersion: UInt32, dataKeyVersion: UInt32) -> [UInt8] {
        var writer = BinaryWriter()
        writer.writeString("lifeline.wrap.v1")
        writer.writeString(patient.rawValue)
        writer.write(kekVersion)
        writer.write(dataKeyVersion)
        return writer.bytes
    }

    // MARK: - Encoding

    public func encoded() -> [UInt8] {
        var writer = BinaryWriter()
        writer.write(Self.formatVersion)
        writer.write(kekVersion)
        writer.write(dataKeyVersion)
        writer.writeRaw(nonce)
        writer.writeRaw(ciphertext)
        writer.writeRaw(tag)
        return writer.bytes
    }

    /// Decodes `encoded()` output; never traps.
    public init(decoding bytes: [UInt8]) throws(VaultError) {
        guard bytes.count == Self.encodedBytes else {
            throw VaultError(.malformed, "wrapped key is \(bytes.count) bytes, want \(Self.encodedBytes)")
        }
        var reader = BinaryReader(bytes, what: "wrapped key")
        let version = try reader.readUInt8()
        guard version == Self.formatVersion else { throw VaultError(.malformed, "wrapped key format version \(version) is not \(Self.formatVersion)") }
        kekVersion = try reader.readUInt32()
        dataKeyVersion = try reader.readUInt32()
        nonce = try reader.readRaw(AESGCM.nonceBytes)
        ciphertext = try reader.readRaw(AESGCM.keyBytes)
        tag = try reader.readRaw(AESGCM.tagBytes)
        try reader.expectEnd()
    }

    public var base64: String { Base64.encode(encoded(), urlSafe: false) }

    public init(base64 text: String) throws(VaultError) {
        guard text.utf8.count <= 128, let bytes = Base64.decode(text, urlSafe: false) else {
            throw VaultError(.malformed, "wrapped key is not valid base64 of \(Self.encodedBytes) bytes")
        }
        try self.init(decoding: bytes)
    }

    public init(from decoder: any Decoder) throws {
        try self.init(base64: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(base64)
    }
}
