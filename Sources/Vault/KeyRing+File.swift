import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The key ring file:
///
///     { "format": 1, "clusterID": "ll-…", "active": 2,
///       "keys": [ { "version": 1, "created": "2026-11-24T23:00:00Z", "key": "<base64 32 bytes>" }, … ],
///       "retired": [ { "version": 1, "created": "…", "retired": "2027-01-05T10:00:00Z" } ],
///       "tokenSecret": "<base64 32 bytes>" }
///
/// `retired` (tombstones, no key material) is optional: rings written before
/// retirement existed have none, and older builds ignore it.
///
/// Mode 0600, owned by the user running the node. `load` refuses anything else
/// BEFORE reading a byte of key material.
extension KeyRing {
    /// Largest key ring file read, in bytes.
    public static let fileBytesMax = 256 * 1024

    private struct FileKey: Codable {
        var version: UInt32
        var created: String
        var key: String
    }

    private struct FileTombstone: Codable {
        var version: UInt32
        var created: String
        var retired: String
    }

    private struct File: Codable {
        var format: Int
        var clusterID: String
        var keys: [FileKey]
        var active: UInt32
        var tokenSecret: String
        var retired: [FileTombstone]?
    }

    // MARK: - Loading

    /// Reads and checks the key ring at `path`.
    ///
    /// Refuses (`.keyRing`) when the file is not a regular file, is owned by
    /// another user, or any group/other permission bit is set, or its contents are
    /// not a valid format-1 ring.
    public static func load(path: String) throws(VaultError) -> KeyRing {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError(.keyRing, "cannot open key ring \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw VaultError(.keyRing, "cannot stat key ring \(path): \(String(cString: strerror(errno)))") }
        try checkPermissions(info, path: path)
        guard info.st_size <= fileBytesMax else {
            throw VaultError(.keyRing, "key ring \(path) is \(info.st_size) bytes, limit \(fileBytesMax)")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        defer { wipe(&bytes) }
        var total = 0
        while total < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw VaultError(.keyRing, "cannot read key ring \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            total += count
        }
        guard total <= fileBytesMax else { throw VaultError(.keyRing, "key ring \(path) grew past \(fileBytesMax) bytes while reading") }
        var contents = Array(bytes[0..<total])
        defer { wipe(&contents) }
        return try parse(contents, source: path)
    }

    static func checkPermissions(_ info: stat, path: String) throws(VaultError) {
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw VaultError(.keyRing, "key ring \(path) is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw VaultError(.keyRing, "key ring \(path) is owned by uid \(info.st_uid), not by this user (uid \(geteuid()))")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw VaultError(.keyRing, "key ring \(path) has mode \(String(mode, radix: 8)): group or other may access it; run 'chmod 600 \(path)'")
        }
    }

    /// Parses key ring JSON. `source` names it in errors. Errors never quote the
    /// file's contents (they may hold keys).
    public static func parse(_ bytes: [UInt8], source: String) throws(VaultError) -> KeyRing {
        let file: File
        do {
            // No-copy view: one less copy of key material to leave behind.
            file = try bytes.withUnsafeBytes { buffer in
                let data = buffer.baseAddress.map {
                    Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0), count: buffer.count, deallocator: .none)
                } ?? Data()
                return try JSONDecoder().decode(File.self, from: data)
            }
        } catch let DecodingError.keyNotFound(key, _) {
            throw VaultError(.keyRing, "key ring \(source): missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw VaultError(.keyRing, "key ring \(source): wrong type at '\(path(context.codingPath))'")
        } catch let DecodingError.valueNotFound(_, context) {
            throw VaultError(.keyRing, "key ring \(source): null at '\(path(context.codingPath))'")
        } catch {
            throw VaultError(.keyRing, "key ring \(source) is not valid JSON")
        }
        guard file.format == format else {
            throw VaultError(.keyRing, "key ring \(source) has format \(file.format); this build reads format \(format)")
        }
        try validate(clusterID: file.clusterID)
        guard !file.keys.isEmpty, file.keys.count <= versionsMax else {
            throw VaultError(.keyRing, "key ring \(source) holds \(file.keys.count) keys; want 1...\(versionsMax)")
        }
        var versions: [Version] = []
        for entry in file.keys {
            guard entry.version > 0, versions.last.map({ $0.version < entry.version }) ?? true else {
                throw VaultError(.keyRing, "key ring \(source): key versions must be positive and strictly ascending (at version \(entry.version))")
            }
            guard entry.created.utf8.count <= 64 else { throw VaultError(.keyRing, "key ring \(source): 'created' of version \(entry.version) is too long") }
            let key = try decodeSecret(entry.key, what: "key of version \(entry.version)", source: source)
            versions.append(Version(version: entry.version, created: entry.created, key: key))
        }
        guard versions.contains(where: { $0.version == file.active }) else {
            throw VaultError(.keyRing, "key ring \(source): active version \(file.active) is not among the keys")
        }
        let retired = try tombstones(file.retired ?? [], keys: versions, source: source)
        let tokenSecret = try decodeSecret(file.tokenSecret, what: "tokenSecret", source: source)
        return KeyRing(clusterID: file.clusterID, versions: versions, activeVersion: file.active, tokenSecret: tokenSecret, retired: retired)
    }

    private static func tombstones(_ entries: [FileTombstone], keys: [Version], source: String) throws(VaultError) -> [Retired] {
        guard entries.count <= versionsMax else {
            throw VaultError(.keyRing, "key ring \(source) holds \(entries.count) retired versions, limit \(versionsMax)")
        }
        var retired: [Retired] = []
        for entry in entries {
            guard entry.version > 0, retired.last.map({ $0.version < entry.version }) ?? true else {
                throw VaultError(.keyRing, "key ring \(source): retired versions must be positive and strictly ascending (at version \(entry.version))")
            }
            guard !keys.contains(where: { $0.version == entry.version }) else {
                throw VaultError(.keyRing, "key ring \(source): version \(entry.version) is both retired and present")
            }
            guard entry.created.utf8.count <= 64, entry.retired.utf8.count <= 64 else {
                throw VaultError(.keyRing, "key ring \(source): a date of retired version \(entry.version) is too long")
            }
            retired.append(Retired(version: entry.version, created: entry.created, retired: entry.retired))
        }
        return retired
    }

    private static func decodeSecret(_ text: String, what: String, source: String) throws(VaultError) -> SecretBytes {
        guard text.utf8.count <= 64, var bytes = Base64.decode(text, urlSafe: false) else {
            throw VaultError(.keyRing, "key ring \(source): \(what) is not valid base64")
        }
        defer { wipe(&bytes) }
        guard bytes.count == AESGCM.keyBytes else {
            throw VaultError(.keyRing, "key ring \(source): \(what) is \(bytes.count) bytes, want \(AESGCM.keyBytes)")
        }
        return SecretBytes(copying: bytes)
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    // MARK: - Writing

    /// The file's JSON. The caller MUST wipe the bytes after use (`wipe`).
    func fileBytes() throws(VaultError) -> [UInt8] {
        let file = File(
            format: Self.format, clusterID: clusterID,
            keys: versions.map { FileKey(version: $0.version, created: $0.created, key: $0.key.base64()) },
            active: activeVersion, tokenSecret: tokenSecret.base64(),
            retired: retired.map { FileTombstone(version: $0.version, created: $0.created, retired: $0.retired) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(file)
            defer { data.withUnsafeMutableBytes { if let base = $0.baseAddress { OPENSSL_cleanse(base, $0.count) } } }
            return Array(data) + [UInt8(ascii: "\n")]
        } catch {
            throw VaultError(.keyRing, "cannot encode key ring")
        }
    }

    /// Creates `path` with mode 0600 (set at open, so it is never briefly readable).
    /// Refuses if the file exists: a ring is never silently overwritten.
    public func create(path: String) throws(VaultError) {
        var bytes = try fileBytes()
        defer { Self.wipe(&bytes) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "it already exists; refusing to overwrite a key ring" : String(cString: strerror(errno))
            throw VaultError(.keyRing, "cannot create key ring \(path): \(reason)")
        }
        do throws(VaultError) {
            try Self.writeAll(fd, bytes, path: path)
            close(fd)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
    }

    /// Atomically replaces the ring at `path` (write a 0600 temporary, fsync,
    /// rename). Used by rotation and retirement; the old file MUST have loaded
    /// cleanly first.
    public func replace(path: String) throws(VaultError) {
        var bytes = try fileBytes()
        defer { Self.wipe(&bytes) }
        let temporary = path + ".tmp-" + Base64.encode(try SecureRandom.bytes(6), urlSafe: true)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError(.keyRing, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        do throws(VaultError) {
            try Self.writeAll(fd, bytes, path: temporary)
            close(fd)
            guard rename(temporary, path) == 0 else {
                throw VaultError(.keyRing, "cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        let directory = (path as NSString).deletingLastPathComponent
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(VaultError) {
        guard fchmod(fd, 0o600) == 0 else { throw VaultError(.keyRing, "cannot chmod \(path): \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw VaultError(.keyRing, "cannot write \(path): \(String(cString: strerror(errno)))") }
            written += count
        }
        guard fsync(fd) == 0 else { throw VaultError(.keyRing, "cannot fsync \(path): \(String(cString: strerror(errno)))") }
    }

    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { OPENSSL_cleanse(base, $0.count) } }
    }
}
