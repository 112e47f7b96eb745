import COpenSSL

/// Key material in a buffer Vault owns and wipes.
///
/// The bytes live outside Swift's copy-on-write arrays so they are never silently
/// duplicated, and are overwritten with `OPENSSL_cleanse` when the last reference
/// goes away. Swift `String`s and `[UInt8]`s that briefly held key material (JSON
/// parsing, base64) cannot be wiped reliably; Vault keeps that window short.
///
/// `@unchecked Sendable`: the buffer is written only inside `init` and is read-only
/// afterwards, so sharing it across threads is safe.
public final class SecretBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer

    /// Upper bound on any secret Vault handles (keys are 32 bytes).
    public static let bytesMax = 64

    /// `count` cryptographically random bytes from OpenSSL's DRBG.
    public convenience init(randomCount count: Int) throws(VaultError) {
        var failure: VaultError?
        self.init(count: count) { buffer in
            failure = SecureRandom.fill(buffer)
        }
        if let failure { throw failure }
    }

    /// A copy of `bytes`. The caller SHOULD wipe its own copy when it can.
    public convenience init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count) { buffer in
            for (offset, byte) in bytes.enumerated() { buffer[offset] = byte }
        }
    }

    /// A zeroed buffer of `count` bytes that `fill` writes once.
    init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        precondition(count > 0 && count <= Self.bytesMax, "secret length \(count) outside 1...\(Self.bytesMax)")
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        fill(storage)
    }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    public var count: Int { storage.count }

    /// Runs `body` with the secret. `body` MUST NOT let the pointer escape.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// Constant-time equality (for tests and key-ring checks; never on a hot path).
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBytes { mine in
            other.withUnsafeBytes { theirs in CRYPTO_memcmp(mine.baseAddress, theirs.baseAddress, count) == 0 }
        }
    }

    /// Standard base64, for writing the key ring file only.
    func base64() -> String {
        withUnsafeBytes { Base64.encode($0, urlSafe: false) }
    }
}

/// OpenSSL's CSPRNG (`RAND_bytes`). The only randomness Vault uses.
public enum SecureRandom {
    /// Fills `buffer`; returns an error instead of trapping if the DRBG fails.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer) -> VaultError? {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return nil }
        guard RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1 else {
            ERR_clear_error()
            return VaultError(.crypto, "RAND_bytes failed")
        }
        return nil
    }

    /// `count` random bytes (nonces, token ids: not secrets that need wiping).
    public static func bytes(_ count: Int) throws(VaultError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let failure = bytes.withUnsafeMutableBytes { fill($0) }
        if let failure { throw failure }
        return bytes
    }
}
