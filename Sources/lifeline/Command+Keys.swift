import Foundation
import Node
import Vault

/// `lifeline keys init|rotate|retire|show`: the cluster key ring file on this machine.
let keysCommand = Command(
    name: "keys",
    summary: "create, rotate, retire or inspect the cluster key ring file (KEKs and token secret)",
    help: """
        Usage: lifeline keys init   --file F [--cluster-id ID]
               lifeline keys rotate --file F [TARGET] [--json]
               lifeline keys reload TARGET [--json]
               lifeline keys rewrap TARGET [--json]
               lifeline keys retire --version N --keys F TARGET [--json]
               lifeline keys show   --file F [--json]
        TARGET is --cluster DIR, or --node URL --ca C --cert C --key K --token T (ops).

        The key ring holds the cluster key-encryption keys (KEK, one per version)
        that wrap every patient's data key, and the secret that signs API tokens.
        It is JSON, mode 0600; nodes refuse to load it if group or other can read it.

          init    create F (mode 0600). Refuses to overwrite an existing file.
                  --cluster-id defaults to a random 'll-' id.
          rotate  add a new KEK version to F and make it active. Old versions stay
                  so existing wrapped keys still open. Record ciphertext is never
                  rewritten. Without TARGET only the file changes: copy it to every
                  node, then run 'keys reload' and 'keys rewrap'. With TARGET (the
                  nodes read F itself, as in a 'cluster up' directory, or each
                  node's copy was replaced first) it goes on: reload and rewrap.
          reload  ask every node of TARGET to read its key ring file again
                  (POST /v1/keys/reload; SIGHUP does the same). A node refuses,
                  keeping its running ring, a file of another cluster, with another
                  token secret, an older copy (a lower active version, a lost
                  tombstone) or one that drops a version without a tombstone. Each
                  reload is audited (key.reload). Exit 1 if any node refused or
                  did not answer.
          rewrap  re-wrap every patient data key under the active KEK version
                  through replicated commands (POST /v1/keys/rewrap, repeated until
                  none remain; audited key.rewrap). Refused, changing nothing,
                  unless every node that answers has the same active version.
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
                  then rewrites F and asks every node of TARGET to reload it (nodes
                  with their own copy need it copied first, then 'keys reload';
                  Docs/operations.md 6a).
          show    print the cluster id, KEK versions and retired versions (never
                  key material).

        Cluster options (rotate, reload, rewrap, retire):
        \(AdminTarget.optionsHelp)

        Example:
          lifeline keys init --file /etc/lifeline/keyring.json --cluster-id east-1
          lifeline keys rotate --file /tmp/ll/keyring.json --cluster /tmp/ll
          lifeline keys retire --version 1 --keys /etc/lifeline/keyring.json --cluster /tmp/ll

        Exit codes: 0 ok, 1 failed (file exists or unreadable, bad permissions, corrupt ring,
        a version still in use or not retirable, a node refused a reload, nodes on
        different active versions, no node answered), 2 usage.
        """,
    run: { arguments in
        guard let action = arguments.first, !action.hasPrefix("--") else {
            throw UsageError("want an action: init, rotate, reload, rewrap, retire or show")
        }
        let rest = Array(arguments.dropFirst())
        switch action {
        case "init": return try keysInit(rest)
        case "rotate": return try keysRotate(rest)
        case "retire": return try keysRetire(rest)
        case "reload": return try keysReload(rest)
        case "rewrap": return try keysRewrap(rest)
        case "show": return try keysShow(rest)
        default: throw UsageError("unknown action '\(action)'; want init, rotate, reload, rewrap, retire or show")
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
    let options = try OptionParser(renamedNode(arguments), valued: AdminTarget.valuedOptions.union(["file"]), flags: ["json"])
    let file = try requiredFile(options)
    let target = options.value("cluster") != nil || options.value("url") != nil ? try AdminTarget(options, role: "ops") : nil
    let rotated: KeyRing
    do {
        rotated = try KeyRing.load(path: file).rotated(now: Date())
        try rotated.replace(path: file)
    } catch {
        throw CommandFailure(error.description)
    }
    let versions = rotated.versions.map { String($0.version) }.joined(separator: ", ")
    guard let target else {
        if options.has("json") {
            printJSON(["activeVersion": rotated.activeVersion, "versions": rotated.versions.map(\.version), "reloaded": [String](), "rewrapped": 0])
        } else {
            print("""
                key ring \(file): KEK version \(rotated.activeVersion) added and active (versions \(versions))
                next: copy \(file) to every node, then 'lifeline keys reload TARGET' and 'lifeline keys rewrap TARGET': data keys move to version \(rotated.activeVersion)
                """)
        }
        return ExitCode.ok
    }
    if !options.has("json") { print("key ring \(file): KEK version \(rotated.activeVersion) added and active (versions \(versions))") }
    let reloaded = try reloadEvery(target, quiet: options.has("json"))
    let rewrapped = try rewrapAll(target, expectedVersion: rotated.activeVersion, quiet: options.has("json"))
    if options.has("json") {
        printJSON(["activeVersion": rotated.activeVersion, "versions": rotated.versions.map(\.version), "reloaded": reloaded, "rewrapped": rewrapped])
    }
    return ExitCode.ok
}

/// `--node URL` is the documented name of `--url` in the key commands.
private func renamedNode(_ arguments: [String]) -> [String] {
    arguments.map { $0 == "--node" ? "--url" : $0.hasPrefix("--node=") ? "--url=" + $0.dropFirst(7) : $0 }
}

private func keysReload(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(renamedNode(arguments), valued: AdminTarget.valuedOptions, flags: ["json"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    let reloaded = try reloadEvery(try AdminTarget(options, role: "ops"), quiet: options.has("json"))
    if options.has("json") { printJSON(["reloaded": reloaded]) }
    return ExitCode.ok
}

private func keysRewrap(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(renamedNode(arguments), valued: AdminTarget.valuedOptions, flags: ["json"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    let rewrapped = try rewrapAll(try AdminTarget(options, role: "ops"), expectedVersion: nil, quiet: options.has("json"))
    if options.has("json") { printJSON(["rewrapped": rewrapped]) }
    return ExitCode.ok
}

/// Asks every node of `target` to reload its ring file; throws, naming each,
/// when any refused or did not answer. Returns the nodes that reloaded.
private func reloadEvery(_ target: AdminTarget, quiet: Bool) throws -> [String] {
    var reloaded: [String] = []
    var failures: [String] = []
    for address in target.addresses {
        do {
            let response = try target.client(address).send("POST", "/v1/keys/reload", timeoutMs: 10_000)
            let answer = response.jsonObject ?? [:]
            guard response.status == 200 else {
                let error = answer["error"] as? [String: Any]
                failures.append("\(address): HTTP \(response.status) \(error?["message"] as? String ?? "")")
                continue
            }
            let node = answer["node"] as? String ?? "\(address)"
            reloaded.append(node)
            if !quiet {
                let active = answer["activeVersion"] as? Int ?? 0
                let retired = (answer["retiredVersions"] as? [Int] ?? []).map(String.init).joined(separator: ", ")
                print("node \(node): key ring reloaded, active KEK version \(active)\(retired.isEmpty ? "" : ", retired \(retired)")\(answer["changed"] as? Bool == true ? "" : " (unchanged)")")
            }
        } catch {
            failures.append("\(address): \(error)")
        }
    }
    guard failures.isEmpty else {
        throw CommandFailure("key ring reload failed on \(failures.count) node(s) (those keep their running ring): \(failures.joined(separator: "; "))")
    }
    return reloaded
}

/// Re-wraps every data key under the active KEK, after checking that every
/// node that answers runs the same active version (`expectedVersion` when
/// given): a node without the new KEK could not open re-wrapped keys.
/// Returns how many keys were re-wrapped.
private func rewrapAll(_ target: AdminTarget, expectedVersion: UInt32?, quiet: Bool) throws -> Int {
    var active: [String: Int] = [:]
    var silent: [String] = []
    for address in target.addresses {
        guard let response = try? target.client(address).send("GET", "/v1/keys/usage", timeoutMs: 10_000), response.status == 200,
              let usage = response.jsonObject, let version = usage["activeVersion"] as? Int else {
            silent.append("\(address)")
            continue
        }
        active[usage["node"] as? String ?? "\(address)"] = version
    }
    let versions = Set(active.values)
    guard !active.isEmpty else { throw CommandFailure("no node answered GET /v1/keys/usage (\(silent.joined(separator: ", "))); nothing was re-wrapped") }
    guard versions.count == 1, expectedVersion.map({ versions == [Int($0)] }) ?? true else {
        let list = active.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        throw CommandFailure("""
            the nodes' active KEK versions differ from each other\(expectedVersion.map { " or from the file's \($0)" } ?? "") (\(list)): \
            give every node the same ring and run 'lifeline keys reload'; nothing was re-wrapped
            """)
    }
    for address in silent { printError("warning: \(address) did not answer; give it the new ring before it serves records again") }
    var total = 0
    // Each call re-wraps up to 5,000 keys in one replicated command.
    for _ in 0..<10_000 {
        let response = try target.sendToLeader("POST", "/v1/keys/rewrap", json: nil, timeoutMs: 30_000)
        let answer = response.jsonObject ?? [:]
        guard response.status == 200 else {
            let error = answer["error"] as? [String: Any]
            throw CommandFailure("re-wrap failed after \(total) key(s): HTTP \(response.status) \(error?["message"] as? String ?? "")")
        }
        let done = answer["rewrapped"] as? Int ?? 0
        total += done
        let remaining = answer["remaining"] as? Int ?? 0
        if remaining == 0 || done == 0 {
            if !quiet {
                let lost = answer["unrecoverable"] as? Int ?? 0
                print("re-wrapped \(total) data key(s) under KEK version \(answer["kekVersion"] as? Int ?? 0); remaining \(remaining)\(lost > 0 ? ", \(lost) under retired versions (unrecoverable)" : "")")
            }
            guard remaining == 0 else { throw CommandFailure("\(remaining) data key(s) could not be re-wrapped; see the node log") }
            return total
        }
    }
    throw CommandFailure("re-wrap did not finish after 10,000 rounds (\(total) keys)")
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
    // --file is the name of --keys elsewhere.
    let options = try OptionParser(renamedNode(arguments), valued: AdminTarget.valuedOptions.union(["version", "keys", "file"]), flags: ["json"])
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
    // Nodes that read F itself drop the key now; the others once F is copied to them.
    var reloaded: [String] = []
    var pending: [String] = []
    for address in target.addresses {
        let response = try? target.client(address).send("POST", "/v1/keys/reload", timeoutMs: 10_000)
        if let answer = response?.jsonObject, response?.status == 200, (answer["retiredVersions"] as? [Int])?.contains(Int(version)) == true {
            reloaded.append(answer["node"] as? String ?? "\(address)")
        } else {
            pending.append(response?.jsonObject?["node"] as? String ?? "\(address)")
        }
    }
    if options.has("json") {
        printJSON(["retiredVersion": version, "retired": tombstone.retired, "versions": retired.versions.map(\.version),
                   "activeVersion": retired.activeVersion, "checkedNodes": checked, "reloadedNodes": reloaded, "pendingNodes": pending])
        return ExitCode.ok
    }
    print("""
        key ring \(file): KEK version \(version) retired on \(tombstone.retired) (versions now \(retired.versions.map { String($0.version) }.joined(separator: ", ")), active \(retired.activeVersion))
        checked on \(checked.joined(separator: ", ")): no live data key is wrapped under version \(version)
        backups and snapshots whose data keys are still wrapped under version \(version) can no longer be opened
        reloaded on: \(reloaded.isEmpty ? "none" : reloaded.joined(separator: ", "))\(pending.isEmpty ? "" : "; still holding the key: \(pending.joined(separator: ", ")) (copy \(file) to them, then 'lifeline keys reload')")
        next: take a fresh backup
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
            throw CommandFailure("node \(node) still wraps new data keys under KEK version \(version) (its active version): give every node the rotated ring ('lifeline keys reload') first; \(file) is unchanged")
        }
        let counts = usage["wrappedDataKeys"] as? [String: Any] ?? [:]
        let inUse = (counts[String(version)] as? NSNumber)?.intValue ?? 0
        guard inUse == 0 else {
            throw CommandFailure("""
                the live cluster still has \(inUse) patient data key(s) wrapped under KEK version \(version) (node \(node)); \
                re-wrap them first ('lifeline keys rewrap'); \(file) is unchanged
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
