/// Why a Vault operation failed.
///
/// Contract: the `reason` NEVER contains plaintext, key bytes, nonces or tags. It
/// names what failed (a file path, a key version, a field name, a patient id —
/// ids are opaque and not PHI) so an operator can act on it, and nothing more.
/// A failed decryption never yields partial plaintext: the error is all you get.
public struct VaultError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind of failure, for callers that branch on it (HTTP status, retry, alert).
    public enum Code: String, Sendable {
        /// The ciphertext or wrapped key failed authentication: wrong key, tampered
        /// bytes, or moved to another patient / field / key version (AAD mismatch).
        case authenticationFailed
        /// A key version (KEK or data key) named by the ciphertext is not available.
        case unknownKeyVersion
        /// The KEK version named by a wrapped key was deliberately retired from
        /// the ring (`KeyRing.retiring`): what it wrapped is gone for good.
        case retiredKeyVersion
        /// The patient's data key was deliberately destroyed (crypto-shredding).
        case shredded
        /// No data key exists for the patient (nothing was ever written for them).
        case unknownPatient
        /// A command carries a new data key for a patient that already has one
        /// (two ingress nodes raced). Deterministic; the ingress node re-encrypts.
        case keyConflict
        /// Bytes or text that do not decode: bad version, truncated, wrong length.
        case malformed
        /// An input is over its documented limit.
        case tooLarge
        /// The key ring file is unsafe or unreadable (permissions, format, base64).
        case keyRing
        /// OpenSSL or the system refused an operation that should not fail.
        case crypto
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}
