import COpenSSL
import CShims

/// AES-256-GCM through OpenSSL's EVP interface: 32-byte key, 12-byte nonce,
/// 16-byte tag. The one place Vault touches the cipher.
///
/// Contract: callers MUST use a fresh random nonce for every seal under a key
/// (`seal` draws it itself, so they cannot get this wrong). `open` authenticates
/// BEFORE it releases plaintext: on any failure the output is wiped and only an
/// error comes back.
enum AESGCM {
    static let keyBytes = 32
    static let nonceBytes = 12
    static let tagBytes = 16

    struct Sealed {
        var nonce: [UInt8]
        var ciphertext: [UInt8]
        var tag: [UInt8]
    }

    // MARK: - Seal

    /// Encrypts `plaintext` under `key` with a fresh random nonce, authenticating `aad`.
    static func seal(key: SecretBytes, plaintext: UnsafeRawBufferPointer, aad: [UInt8]) throws(VaultError) -> Sealed {
        precondition(key.count == keyBytes, "AES-256-GCM key must be \(keyBytes) bytes, got \(key.count)")
        let nonce = try SecureRandom.bytes(nonceBytes)
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        var tag = [UInt8](repeating: 0, count: tagBytes)
        let context = try Context()
        let ok = key.withUnsafeBytes { keyBuffer in
            ciphertext.withUnsafeMutableBytes { out in
                tag.withUnsafeMutableBytes { tagBuffer in
                    context.encrypt(key: keyBuffer, nonce: nonce, aad: aad, plaintext: plaintext, out: out, tag: tagBuffer)
                }
            }
        }
        guard ok else {
            ERR_clear_error()
            throw VaultError(.crypto, "AES-256-GCM encryption failed")
        }
        return Sealed(nonce: nonce, ciphertext: ciphertext, tag: tag)
    }

    // MARK: - Open

    /// Decrypts into `out` (exactly `ciphertext.count` bytes). On failure `out` is
    /// zeroed and `.authenticationFailed` is thrown; no partial plaintext escapes.
    static func open(
        key: SecretBytes, nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8], aad: [UInt8],
        into out: UnsafeMutableRawBufferPointer
    ) throws(VaultError) {
        precondition(key.count == keyBytes, "AES-256-GCM key must be \(keyBytes) bytes, got \(key.count)")
        precondition(out.count == ciphertext.count, "output \(out.count) bytes for \(ciphertext.count) bytes of ciphertext")
        guard nonce.count == nonceBytes, tag.count == tagBytes else {
            throw VaultError(.malformed, "nonce or tag has the wrong length")
        }
        let context = try Context()
        let ok = key.withUnsafeBytes { keyBuffer in
            context.decrypt(key: keyBuffer, nonce: nonce, aad: aad, ciphertext: ciphertext, tag: tag, out: out)
        }
        guard ok else {
            ERR_clear_error()
            if let base = out.baseAddress { OPENSSL_cleanse(base, out.count) }
            throw VaultError(.authenticationFailed, "authentication failed: wrong key, tampered bytes, or wrong patient/field/version binding")
        }
    }

    /// Decrypts to a new array. The caller owns (and SHOULD wipe) the plaintext.
    static func open(key: SecretBytes, nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8], aad: [UInt8]) throws(VaultError) -> [UInt8] {
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        var failure: VaultError?
        plaintext.withUnsafeMutableBytes { out in
            do throws(VaultError) {
                try open(key: key, nonce: nonce, ciphertext: ciphertext, tag: tag, aad: aad, into: out)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return plaintext
    }

    // MARK: - EVP context

    /// One EVP_CIPHER_CTX, freed (and wiped by OpenSSL) in deinit.
    private final class Context {
        let handle: OpaquePointer

        init() throws(VaultError) {
            guard let handle = EVP_CIPHER_CTX_new() else {
                throw VaultError(.crypto, "EVP_CIPHER_CTX_new failed")
            }
            self.handle = handle
        }

        deinit { EVP_CIPHER_CTX_free(handle) }

        func encrypt(
            key: UnsafeRawBufferPointer, nonce: [UInt8], aad: [UInt8], plaintext: UnsafeRawBufferPointer,
            out: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer
        ) -> Bool {
            guard EVP_EncryptInit_ex(handle, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                  ll_EVP_CIPHER_CTX_set_gcm_ivlen(handle, Int32(AESGCM.nonceBytes)) == 1,
                  EVP_EncryptInit_ex(handle, nil, nil, bytes(key), nonce) == 1,
                  update(encrypting: true, out: nil, input: aad) else { return false }
            var written: Int32 = 0
            if plaintext.count > 0 {
                guard EVP_EncryptUpdate(handle, mutableBytes(out), &written, bytes(plaintext), Int32(plaintext.count)) == 1,
                      Int(written) == plaintext.count else { return false }
            }
            var finalBytes: Int32 = 0
            var scratch = [UInt8](repeating: 0, count: 16)
            guard EVP_EncryptFinal_ex(handle, &scratch, &finalBytes) == 1, finalBytes == 0 else { return false }
            return ll_EVP_CIPHER_CTX_get_gcm_tag(handle, mutableBytes(tag), Int32(AESGCM.tagBytes)) == 1
        }

        func decrypt(
            key: UnsafeRawBufferPointer, nonce: [UInt8], aad: [UInt8], ciphertext: [UInt8], tag: [UInt8],
            out: UnsafeMutableRawBufferPointer
        ) -> Bool {
            guard EVP_DecryptInit_ex(handle, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                  ll_EVP_CIPHER_CTX_set_gcm_ivlen(handle, Int32(AESGCM.nonceBytes)) == 1,
                  EVP_DecryptInit_ex(handle, nil, nil, bytes(key), nonce) == 1,
                  update(encrypting: false, out: nil, input: aad) else { return false }
            var written: Int32 = 0
            if !ciphertext.isEmpty {
                guard EVP_DecryptUpdate(handle, mutableBytes(out), &written, ciphertext, Int32(ciphertext.count)) == 1,
                      Int(written) == ciphertext.count else { return false }
            }
            guard ll_EVP_CIPHER_CTX_set_gcm_tag(handle, tag, Int32(AESGCM.tagBytes)) == 1 else { return false }
            var finalBytes: Int32 = 0
            var scratch = [UInt8](repeating: 0, count: 16)
            // DecryptFinal checks the tag: this is where tampering is detected.
            return EVP_DecryptFinal_ex(handle, &scratch, &finalBytes) == 1 && finalBytes == 0
        }

        /// Feeds additional authenticated data (out == nil) to the cipher.
        private func update(encrypting: Bool, out: UnsafeMutablePointer<UInt8>?, input: [UInt8]) -> Bool {
            guard !input.isEmpty else { return true }
            var written: Int32 = 0
            let result = encrypting
                ? EVP_EncryptUpdate(handle, out, &written, input, Int32(input.count))
                : EVP_DecryptUpdate(handle, out, &written, input, Int32(input.count))
            return result == 1
        }

        private func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
            buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
        }

        private func mutableBytes(_ buffer: UnsafeMutableRawBufferPointer) -> UnsafeMutablePointer<UInt8>? {
            buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
        }
    }
}

// MARK: - Digests and MACs

/// SHA-256 (EVP_Digest) and HMAC-SHA256, wrapped once.
public enum Digest {
    public static let sha256Bytes = 32

    /// SHA-256 of `data`.
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: sha256Bytes)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha256(), nil)
        }
        // SHA-256 over memory cannot fail short of a broken OpenSSL install.
        precondition(ok == 1 && length == UInt32(sha256Bytes), "EVP_Digest(SHA-256) failed: ok \(ok), length \(length)")
        return digest
    }

    /// HMAC-SHA256(key, data).
    static func hmacSHA256(key: SecretBytes, data: [UInt8]) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: sha256Bytes)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBuffer in
            data.withUnsafeBytes { input in
                HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count),
                     input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, &mac, &length)
            }
        }
        precondition(result != nil && length == UInt32(sha256Bytes), "HMAC-SHA256 failed: length \(length)")
        return mac
    }

    /// Constant-time comparison: the time taken does not depend on where they differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
    }
}
