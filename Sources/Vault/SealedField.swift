/// An opaque patient identifier assigned by Lifeline (random, never an MRN, name
/// or phone number), so it may appear in AAD, commands, logs and audit events.
public struct PatientID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Longest patient id accepted, in UTF-8 bytes.
    public static let bytesMax = 128

    public init(_ rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: PatientID, rhs: PatientID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Throws `.tooLarge` / `.malformed` for ids Vault will not bind into AAD.
    func validate() throws(VaultError) {
        guard !rawValue.isEmpty else { throw VaultError(.malformed, "empty patient id") }
        guard rawValue.utf8.count <= Self.bytesMax else {
            throw VaultError(.tooLarge, "patient id is \(rawValue.utf8.count) bytes, limit \(Self.bytesMax)")
        }
    }
}

/// One encrypted PHI field: AES-256-GCM under the patient's data key.
///
/// Encoding (`encoded()`), big-endian, no padding:
///
///     formatVersion u8 (= 1) | keyVersion u32 | nonce [12] | ciphertext [n] | tag [16]
///
/// `keyVersion` is the generation of the patient's data key that sealed it. The
/// field name is NOT stored: the caller keeps it next to the field and passes it
/// back at decryption, where the AAD checks it.
///
/// AAD = "lifeline.field.v1" | len-prefixed patient id | len-prefixed field name | keyVersion u32.
/// So a ciphertext copied to another patient, another field, or relabelled with
/// another key version fails authentication.
public struct SealedField: Hashable, Sendable, Codable {
    public static let formatVersion: UInt8 = 1
    /// Largest plaintext one field may hold, in bytes (notes, addresses, not files).
    public static let plaintextBytesMax = 64 * 1024
    static let overheadBytes = 1 + 4 + AESGCM.nonceBytes + AESGCM.tagBytes
    /// Largest encoded field accepted by `init(decoding:)`.
    public static let encodedBytesMax = plaintextBytesMax + overheadBytes
    /// Longest field name, in UTF-8 bytes.
    public static let nameBytesMax = 64

    public let keyVersion: UInt32
    public let nonce: [UInt8]
    public let ciphertext: [UInt8]
    public let tag: [UInt8]

    init(keyVersion: UInt32, sealed: AESGCM.Sealed) {
        self.keyVersion = keyVersion
        nonce = sealed.nonce
        ciphertext = sealed.ciphertext
        tag = sealed.tag
    }

    // MARK: - Encoding

    public func encoded() -> [UInt8] {
        var writer = BinaryWriter()
        writer.write(Self.formatVersion)
        writer.write(keyVersion)
        writer.writeRaw(nonce)
        writer.writeRaw(ciphertext)
        writer.writeRaw(tag)
        return writer.bytes
    }

    /// Decodes `encoded()` output. Never traps: every bad input is a `.malformed` error.
    public init(decoding bytes: [UInt8]) throws(VaultError) {
        guard bytes.count <= Self.encodedBytesMax else {
            throw VaultError(.tooLarge, "sealed field is \(bytes.count) bytes, limit \(Self.encodedBytesMax)")
        }
        guard bytes.count >= Self.overheadBytes else {
            throw VaultError(.malformed, "sealed field is \(bytes.count) bytes, shorter than the \(Self.overheadBytes)-byte minimum")
        }
        var reader = BinaryReader(bytes, what: "sealed field")
        let version = try reader.readUInt8()
        guard version == Self.formatVersion else { throw VaultError(.malformed, "sealed field format version \(version) is not \(Self.formatVersion)") }
        keyVersion = try reader.readUInt32()
        nonce = try reader.readRaw(AESGCM.nonceBytes)
        ciphertext = try reader.readRaw(reader.remaining - AESGCM.tagBytes)
        tag = try reader.readRaw(AESGCM.tagBytes)
        try reader.expectEnd()
    }

    /// Base64 (standard, padded) of `encoded()`: how JSON carries a field.
    public var base64: String { Base64.encode(encoded(), urlSafe: false) }

    public init(base64 text: String) throws(VaultError) {
        guard text.utf8.count <= (Self.encodedBytesMax + 2) / 3 * 4 else {
            throw VaultError(.tooLarge, "sealed field text is \(text.utf8.count) bytes")
        }
        guard let bytes = Base64.decode(text, urlSafe: false) else { throw VaultError(.malformed, "sealed field is not valid base64") }
        try self.init(decoding: bytes)
    }

    public init(from decoder: any Decoder) throws {
        try self.init(base64: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(base64)
    }

    // MARK: - Binding

    static func aad(patient: PatientID, field: String, keyVersion: UInt32) -> [UInt8] {
        var writer = BinaryWriter()
        writer.writeString("lifeline.field.v1")
        writer.writeString(patient.rawValue)
        writer.writeString(field)
        writer.write(keyVersion)
        return writer.bytes
    }

    static func validate(fieldName: String) throws(VaultError) {
        guard !fieldName.isEmpty else { throw VaultError(.malformed, "empty field name") }
        guard fieldName.utf8.count <= nameBytesMax else {
            throw VaultError(.tooLarge, "field name is \(fieldName.utf8.count) bytes, limit \(nameBytesMax)")
        }
    }
}
