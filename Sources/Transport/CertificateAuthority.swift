import COpenSSL
import CShims
import Glibc

/// Reads the names a certificate carries.
enum CertificateNames {
    static func of(_ certificate: OpaquePointer) -> [String] {
        var names: [String] = []
        if let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) {
            let list = OpaquePointer(raw)
            for index in 0..<ll_sk_GENERAL_NAME_num(list) {
                guard let name = ll_sk_GENERAL_NAME_value(list, index) else { continue }
                switch name.pointee.type {
                case GEN_DNS:
                    if let text = asn1Text(name.pointee.d.dNSName) { names.append(text) }
                case GEN_IPADD:
                    if let address = name.pointee.d.iPAddress, ASN1_STRING_length(address) == 4, let data = ASN1_STRING_get0_data(address) {
                        names.append((0..<4).map { String(data[$0]) }.joined(separator: "."))
                    }
                default:
                    break
                }
            }
            ll_GENERAL_NAMES_free(list)
        }
        if let subject = X509_get_subject_name(certificate) {
            var buffer = [CChar](repeating: 0, count: 256)
            let length = X509_NAME_get_text_by_NID(subject, NID_commonName, &buffer, Int32(buffer.count))
            if length > 0 {
                let common = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !names.contains(common) { names.append(common) }
            }
        }
        return names
    }

    private static func asn1Text(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String? {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self)
    }
}

/// Makes the cluster's certificates with OpenSSL: a CA, one certificate per node
/// (SAN: the node id, localhost, 127.0.0.1 and any host given) and client
/// certificates. Keys are EC P-256; private key files are created with mode 0600.
public enum CertificateAuthority {
    public static let caValidityDays = 3650
    public static let leafValidityDays = 730

    /// Writes ca.pem, ca-key.pem, and NAME.pem + NAME-key.pem for every node and
    /// client into `directory`, which MUST NOT exist or MUST be empty.
    public static func generateCluster(directory: String, nodes: [String], clients: [String], hosts: [String: String] = [:]) throws(TLSError) {
        try prepare(directory)
        let caKey = try generateKey()
        defer { EVP_PKEY_free(caKey) }
        let ca = try makeCertificate(commonName: "Lifeline cluster CA", subjectKey: caKey, issuer: nil, issuerKey: caKey, days: caValidityDays, extensions: [
            (NID_basic_constraints, "critical,CA:TRUE"),
            (NID_key_usage, "critical,keyCertSign,cRLSign"),
            (NID_subject_key_identifier, "hash"),
        ])
        defer { X509_free(ca) }
        try write(certificate: ca, to: directory + "/ca.pem")
        try write(key: caKey, to: directory + "/ca-key.pem")
        for node in nodes {
            var alternatives = ["DNS:\(node)", "DNS:localhost", "IP:127.0.0.1"]
            if let host = hosts[node] {
                alternatives.append(host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." } ? "IP:\(host)" : "DNS:\(host)")
            }
            try issueLeaf(name: node, alternatives: alternatives, usage: "serverAuth,clientAuth", ca: ca, caKey: caKey, directory: directory)
        }
        for client in clients {
            try issueLeaf(name: client, alternatives: ["DNS:\(client)"], usage: "clientAuth", ca: ca, caKey: caKey, directory: directory)
        }
    }

    private static func issueLeaf(name: String, alternatives: [String], usage: String, ca: OpaquePointer, caKey: OpaquePointer, directory: String) throws(TLSError) {
        let key = try generateKey()
        defer { EVP_PKEY_free(key) }
        let certificate = try makeCertificate(commonName: name, subjectKey: key, issuer: ca, issuerKey: caKey, days: leafValidityDays, extensions: [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature,keyEncipherment"),
            (NID_ext_key_usage, usage),
            (NID_subject_alt_name, alternatives.joined(separator: ",")),
        ])
        defer { X509_free(certificate) }
        try write(certificate: certificate, to: "\(directory)/\(name).pem")
        try write(key: key, to: "\(directory)/\(name)-key.pem")
    }

    private static func prepare(_ directory: String) throws(TLSError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw TLSError("\(directory) exists and is not a directory") }
            guard let handle = opendir(directory) else { throw TLSError("cannot read \(directory)") }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." {
                    throw TLSError("\(directory) is not empty; refusing to overwrite existing certificates and keys")
                }
            }
        } else if mkdir(directory, 0o700) != 0 {
            throw TLSError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    private static func generateKey() throws(TLSError) -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw TLSError(openSSLErrors("EVP_PKEY_CTX_new_from_name")) }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_group_name(context, "P-256") == 1,
            EVP_PKEY_generate(context, &key) == 1, let key
        else {
            throw TLSError(openSSLErrors("cannot generate an EC P-256 key"))
        }
        return key
    }

    private static func makeCertificate(
        commonName: String, subjectKey: OpaquePointer, issuer: OpaquePointer?, issuerKey: OpaquePointer, days: Int,
        extensions: [(Int32, String)]
    ) throws(TLSError) -> OpaquePointer {
        guard let certificate = X509_new() else { throw TLSError(openSSLErrors("X509_new")) }
        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, 16) == 1 else {
            X509_free(certificate)
            throw TLSError(openSSLErrors("RAND_bytes"))
        }
        serial[0] &= 0x7F
        let number = BN_bin2bn(serial, 16, nil)
        defer { BN_free(number) }
        let subject = X509_NAME_new()
        defer { X509_NAME_free(subject) }
        let ok = X509_set_version(certificate, 2) == 1
            && BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil
            && X509_gmtime_adj(X509_getm_notBefore(certificate), -300) != nil
            && X509_gmtime_adj(X509_getm_notAfter(certificate), days * 86_400) != nil
            && X509_set_pubkey(certificate, subjectKey) == 1
            && X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1
            && X509_set_subject_name(certificate, subject) == 1
            && X509_set_issuer_name(certificate, issuer.map { X509_get_subject_name($0) } ?? subject) == 1
        guard ok else {
            X509_free(certificate)
            throw TLSError(openSSLErrors("cannot fill the certificate for \(commonName)"))
        }
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer ?? certificate, certificate, nil, nil, 0)
        for (nid, value) in extensions {
            guard let extensionValue = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                X509_free(certificate)
                throw TLSError(openSSLErrors("bad certificate extension '\(value)'"))
            }
            X509_add_ext(certificate, extensionValue, -1)
            X509_EXTENSION_free(extensionValue)
        }
        guard X509_sign(certificate, issuerKey, EVP_sha256()) > 0 else {
            X509_free(certificate)
            throw TLSError(openSSLErrors("cannot sign the certificate for \(commonName)"))
        }
        return certificate
    }

    private static func write(certificate: OpaquePointer, to path: String) throws(TLSError) {
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, certificate) == 1 else { throw TLSError(openSSLErrors("PEM_write_bio_X509")) }
        try writeFile(path, bytes: drain(bio), mode: 0o644)
    }

    private static func write(key: OpaquePointer, to path: String) throws(TLSError) {
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1 else { throw TLSError(openSSLErrors("PEM_write_bio_PrivateKey")) }
        try writeFile(path, bytes: drain(bio), mode: 0o600)
    }

    private static func drain(_ bio: OpaquePointer?) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = BIO_read(bio, &chunk, Int32(chunk.count))
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<Int(count)])
        }
        return bytes
    }

    /// Creates the file with `mode` from the start (never world-readable, even briefly).
    private static func writeFile(_ path: String, bytes: [UInt8], mode: mode_t) throws(TLSError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw TLSError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw TLSError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
