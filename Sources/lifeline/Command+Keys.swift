import Foundation
import Node
import Vault

/// `lifeline keys init|rotate|retire|show`: the cluster key ring file on this machine.
let keysCommand = Command(
    name: "keys",
    summary: "create, rotate, retire or inspect the cluster key ring file (KEKs and token secret)",
    help: """
        Usage: lifeline keys init   --file F [--cluster-id ID]
               lifeline keys rotate --file F
               lifeline keys retire --version N --keys F (--cluster DIR | --node URL --ca C --cert C --key K) [--json]
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
          retire  remove KEK version N from F for good, keeping a tombstone (its
                  dates, no key) so a later read says "key version N was retired on
                  DATE". Everything still wrapped under N becomes unreadable: every
                  backup and snapshot taken before the re-wrap finished, including
                  the keys of patients shredded since. First asks the live cluster
                  (GET /v1/keys/usage, an ops token; --file is accepted for --keys,
                  --url for --node) and refuses, leaving F untouched, while any
                  patient data key is still wrapped under N, while a node still has
                  N as its active version, when the nodes' ring belongs to another
                  cluster, or when no node answers. Never retires the active or
                  newest version. Then commits the retirement (POST /v1/keys/retire:
                  the same check in log order, an audited key.retire event; the
                  cluster then refuses new or re-wrapped keys under N) and only
                  then rewrites F. Copy F to every node and restart them one at a
                  time (Docs/operations.md 6a).
          show    print the cluster id, KEK versions and retired versions (never
                  key material).

        Cluster options (retire):
        \(AdminTarget.optionsHelp)

        Example:
          lifeline keys init --file /etc/lifeline/keyring.json --cluster-id east-1
          lifeline keys retire --version 1 --keys /etc/lifeline/keyring.json --cluster /tmp/ll

        Exit codes: 0 ok, 1 failed (file exists or unreadable, bad permissions, corrupt ring,
        a version still in use or not retirable, no node answered), 2 usage.
        """,
    run: { arguments in
        guard let action = arguments.first, !action.hasPrefix("--") else {
            throw UsageError("want an action: init, rotate, retire or show")
        }
        let rest = Array(arguments.dropFirst())
        switch action {
        case "init": return try keysInit(rest)
        case "rotate": return try keysRotate(rest)
        case "retire": return try keysRetire(rest)
        case "show": return try keysShow(rest)
        default: throw UsageError("unknown action '\(action)'; want init, rotate, retire or show")
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
                   "versions": ring.versions.map { ["version": $0.version, "created": $0.created] as [String: Any] },
                   "retired": ring.retired.map { ["version": $0.version, "created": $0.created, "retired": $0.retired] as [String: Any] }])
        return ExitCode.ok
    }
    print("cluster \(ring.clusterID), active KEK version \(ring.activeVersion)")
    for version in ring.versions {
        print("  version \(version.version)  created \(version.created)\(version.version == ring.activeVersion ? "  (active)" : "")")
    }
    for tombstone in ring.retired {
        print("  version \(tombstone.version)  created \(tombstone.created)  RETIRED \(tombstone.retired) (key destroyed)")
    }
    return ExitCode.ok
}

/// `keys retire`: checks the ring locally, then asks the live cluster that no
/// data key is still wrapped under the version, and only then replaces the file
/// (atomically, 0600). Any refusal leaves the file as it was.
private func keysRetire(_ arguments: [String]) throws -> Int32 {
    // --node is the documented name of --url here; --file the name of --keys elsewhere.
    let renamed = arguments.map { $0 == "--node" ? "--url" : $0.hasPrefix("--node=") ? "--url=" + $0.dropFirst(7) : $0 }
    let options = try OptionParser(renamed, valued: AdminTarget.valuedOptions.union(["version", "keys", "file"]), flags: ["json"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    guard let file = options.value("keys") ?? options.value("file"), !file.isEmpty else { throw UsageError("--keys F (the key ring file) is required") }
    guard let text = options.value("version"), let version = UInt32(text), version > 0 else {
        throw UsageError("--version N (a positive KEK version) is required")
    }
    let target = try AdminTarget(options, role: "ops")
    let ring: KeyRing
    let retired: KeyRing
    do {
        ring = try KeyRing.load(path: file)
        retired = try ring.retiring(version: version, now: Date())
    } catch {
        throw CommandFailure("\(error.description); \(file) is unchanged")
    }
    let checked = try confirmUnused(version: version, ring: ring, target: target, file: file)
    // The same check again, committed in log order with a key.retire audit event:
    // from then on the cluster stores no new or re-wrapped key under the version.
    let recorded = try target.sendToLeader("POST", "/v1/keys/retire", json: ["version": version])
    guard recorded.status == 200 else {
        let error = recorded.jsonObject?["error"] as? [String: Any]
        throw CommandFailure("the cluster refused to retire KEK version \(version): HTTP \(recorded.status) \(error?["message"] as? String ?? ""); \(file) is unchanged")
    }
    do {
        // Read again right before writing: a concurrent rotate must not be lost.
        let current = try KeyRing.load(path: file)
        guard current.versions.map(\.version) == ring.versions.map(\.version), current.retired == ring.retired else {
            throw CommandFailure("\(file) changed while the cluster was checked; run retire again (the file is unchanged)")
        }
        try retired.replace(path: file)
    } catch let error as VaultError {
        throw CommandFailure("\(error.description); \(file) is unchanged")
    }
    let tombstone = retired.retired.first { $0.version == version }!
    if options.has("json") {
        printJSON(["retiredVersion": version, "retired": tombstone.retired, "versions": retired.versions.map(\.version),
                   "activeVersion": retired.activeVersion, "checkedNodes": checked])
        return ExitCode.ok
    }
    print("""
        key ring \(file): KEK version \(version) retired on \(tombstone.retired) (versions now \(retired.versions.map { String($0.version) }.joined(separator: ", ")), active \(retired.activeVersion))
        checked on \(checked.joined(separator: ", ")): no live data key is wrapped under version \(version)
        backups and snapshots whose data keys are still wrapped under version \(version) can no longer be opened
        next: copy \(file) to every node and restart them one at a time; take a fresh backup
        """)
    return ExitCode.ok
}

/// Asks every node of `target` for `GET /v1/keys/usage`; throws unless at least
/// one answers and every answer shows the same cluster, `version` not active,
/// and no data key wrapped under `version`. Returns the nodes that answered.
private func confirmUnused(version: UInt32, ring: KeyRing, target: AdminTarget, file: String) throws -> [String] {
    var checked: [String] = []
    var failures: [String] = []
    for address in target.addresses {
        let response: HTTPResponse
        do {
            response = try target.client(address).send("GET", "/v1/keys/usage", timeoutMs: 10_000)
        } catch {
            failures.append("\(address): \(error)")
            continue
        }
        guard response.status == 200, let usage = response.jsonObject else {
            let error = response.jsonObject?["error"] as? [String: Any]
            failures.append("\(address): HTTP \(response.status) \(error?["message"] as? String ?? "")")
            continue
        }
        let node = usage["node"] as? String ?? "\(address)"
        guard usage["clusterID"] as? String == ring.clusterID else {
            throw CommandFailure("node \(node) runs the key ring of cluster '\(usage["clusterID"] as? String ?? "?")', \(file) is cluster '\(ring.clusterID)'; refusing (\(file) is unchanged)")
        }
        guard (usage["activeVersion"] as? NSNumber)?.uint32Value != version else {
            throw CommandFailure("node \(node) still wraps new data keys under KEK version \(version) (its active version): give every node the rotated ring and restart it first; \(file) is unchanged")
        }
        let counts = usage["wrappedDataKeys"] as? [String: Any] ?? [:]
        let inUse = (counts[String(version)] as? NSNumber)?.intValue ?? 0
        guard inUse == 0 else {
            throw CommandFailure("""
                the live cluster still has \(inUse) patient data key(s) wrapped under KEK version \(version) (node \(node)); \
                re-wrap them first (POST /v1/keys/rewrap with an ops token, until remaining is 0); \(file) is unchanged
                """)
        }
        checked.append(node)
    }
    guard !checked.isEmpty else {
        throw CommandFailure("no node confirmed that KEK version \(version) is unused (\(failures.joined(separator: "; "))); refusing, \(file) is unchanged")
    }
    for failure in failures { printError("warning: \(failure) did not answer; the nodes that did read the replicated state") }
    return checked
}
