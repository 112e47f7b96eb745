import Foundation
import Vault

/// `lifeline keys init|rotate|show`: the cluster key ring file on this machine.
let keysCommand = Command(
    name: "keys",
    summary: "create, rotate or inspect the cluster key ring file (KEKs and token secret)",
    help: """
        Usage: lifeline keys init   --file F [--cluster-id ID]
               lifeline keys rotate --file F
               lifeline keys show   --file F [--json]

        The key ring holds the cluster key-encryption keys (KEK, one per version)
        that wrap every patient's data key, and the secret that signs API tokens.
        It is JSON, mode 0600; nodes refuse to load it if group or other can read it.

          init    create F (mode 0600). Refuses to overwrite an existing file.
                  --cluster-id defaults to a random 'll-' id.
          rotate  add a new KEK version to F and make it active. Old versions stay
                  so existing wrapped keys still open. This changes the LOCAL file
                  only: copy it to every node, then re-wrap the patients' data keys
                  with the replicated re-wrap command (node layer); record
                  ciphertext is never rewritten.
          show    print the cluster id and KEK versions (never key material).

        Example:
          lifeline keys init --file /etc/lifeline/keyring.json --cluster-id east-1

        Exit codes: 0 ok, 1 failed (file exists or unreadable, bad permissions, corrupt ring), 2 usage.
        """,
    run: { arguments in
        guard let action = arguments.first, !action.hasPrefix("--") else {
            throw UsageError("want an action: init, rotate or show")
        }
        let rest = Array(arguments.dropFirst())
        switch action {
        case "init": return try keysInit(rest)
        case "rotate": return try keysRotate(rest)
        case "show": return try keysShow(rest)
        default: throw UsageError("unknown action '\(action)'; want init, rotate or show")
        }
    }
)

private func requiredFile(_ options: OptionParser) throws -> String {
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    guard let file = options.value("file"), !file.isEmpty else { throw UsageError("--file F is required") }
    return file
}

private func keysInit(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["file", "cluster-id"])
    let file = try requiredFile(options)
    let clusterID = try options.value("cluster-id") ?? "ll-" + Hex.encode(SecureRandom.bytes(6))
    do {
        let ring = try KeyRing.generate(clusterID: clusterID, now: Date())
        try ring.create(path: file)
    } catch {
        throw CommandFailure(error.description)
    }
    print("created key ring \(file) for cluster \(clusterID): KEK version 1 active, token secret set (mode 0600)")
    return ExitCode.ok
}

private func keysRotate(_ arguments: [String]) throws -> Int32 {
    let file = try requiredFile(try OptionParser(arguments, valued: ["file"]))
    let rotated: KeyRing
    do {
        rotated = try KeyRing.load(path: file).rotated(now: Date())
        try rotated.replace(path: file)
    } catch {
        throw CommandFailure(error.description)
    }
    print("""
        key ring \(file): KEK version \(rotated.activeVersion) added and active (versions \(rotated.versions.map { String($0.version) }.joined(separator: ", ")))
        next: copy \(file) to every node and restart them one at a time, then POST /v1/keys/rewrap (an ops token) until remaining is 0: data keys move to version \(rotated.activeVersion)
        """)
    return ExitCode.ok
}

private func keysShow(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["file"], flags: ["json"])
    let file = try requiredFile(options)
    let ring: KeyRing
    do { ring = try KeyRing.load(path: file) } catch { throw CommandFailure(error.description) }
    if options.has("json") {
        // Versions and dates only: never key material.
        printJSON(["clusterID": ring.clusterID, "activeVersion": ring.activeVersion,
                   "versions": ring.versions.map { ["version": $0.version, "created": $0.created] as [String: Any] }])
        return ExitCode.ok
    }
    print("cluster \(ring.clusterID), active KEK version \(ring.activeVersion)")
    for version in ring.versions {
        print("  version \(version.version)  created \(version.created)\(version.version == ring.activeVersion ? "  (active)" : "")")
    }
    return ExitCode.ok
}
