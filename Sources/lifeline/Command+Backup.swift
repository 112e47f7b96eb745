import Foundation
import Node

let backupCommand = Command(
    name: "backup",
    summary: "write a consistent copy of one node's state to a file",
    help: """
        Usage: lifeline backup TARGET --out FILE [--node NODE]

        Asks one node (the first that answers, or --node with --cluster) for its
        applied state as of one log index and writes it to FILE (mode 0600, written
        to FILE.partial and renamed, so FILE is never torn). The file carries its
        own SHA-256; patient fields inside it are ciphertext. The key ring is NOT
        in it: keep the key ring file with the backup, apart from it.

        TARGET:
        \(AdminTarget.optionsHelp)
          --node NODE     with --cluster: the node to copy (default: the first that answers)
          --out FILE      where to write the backup (must not exist)
          --json          print what was written as JSON

        Example:
          lifeline backup --cluster /tmp/ll --out /var/backups/lifeline-2026-11-25.llbk

        Exit codes: 0 written, 1 failed (no node answered, FILE exists, disk), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["out", "node"]), flags: ["json"])
        guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
        guard let out = options.value("out") else { throw UsageError("--out FILE is required") }
        var target = try AdminTarget(options)
        if let node = options.value("node") {
            guard let directory = options.value("cluster") else { throw UsageError("--node needs --cluster") }
            let file = try ClusterFile.read(from: directory)
            guard let entry = file.nodes.first(where: { $0.node == node }), let address = entry.apiAddress else {
                throw CommandFailure("no node '\(node)' in \(ClusterFile.path(in: directory))")
            }
            target.addresses = [address]
        }
        guard !FileManager.default.fileExists(atPath: out) else { throw CommandFailure("\(out) already exists; pick a new file") }
        var failures: [String] = []
        for address in target.addresses {
            do {
                let response = try target.client(address).send("GET", "/v1/backup", timeoutMs: 60_000)
                guard response.status == 200 else {
                    failures.append("\(address): HTTP \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
                    continue
                }
                let image = try BackupImage(decoding: response.body)
                try writeAtomically(response.body, to: out)
                if options.has("json") {
                    printJSON(["file": out, "node": image.node.rawValue, "clusterID": image.clusterID, "index": image.index, "term": image.term,
                               "stateHash": image.stateHash, "bytes": response.body.count])
                } else {
                    print("backup of \(image.node) (cluster \(image.clusterID)) at index \(image.index), term \(image.term), state \(image.stateHash): \(out) (\(response.body.count) bytes)")
                }
                return ExitCode.ok
            } catch {
                failures.append("\(address): \(error)")
            }
        }
        throw CommandFailure("no backup taken: " + failures.joined(separator: "; "))
    }
)

let restoreCommand = Command(
    name: "restore",
    summary: "seed a new cluster's node from a backup file",
    help: """
        Usage: lifeline restore --file BACKUP --config FILE

        Checks BACKUP (its SHA-256, its format, and that this build reproduces its
        state hash), then writes it into the data directory of the node FILE
        configures, as a snapshot whose voters are that node and its configured
        peers. Run it for every founding node of the new cluster with the same
        BACKUP, then start them ('lifeline serve --config FILE'); they elect a
        leader and carry on from the backup's index. Refuses a data directory that
        already holds state, and writes nothing when any check fails. Restore the
        key ring file that was kept with the backup to the path the config names.

        Options:
          --file BACKUP   a file written by 'lifeline backup'
          --config FILE   the configuration of the (stopped, new) node to seed
          --json          print what was restored as JSON

        Example:
          lifeline restore --file /var/backups/lifeline-2026-11-25.llbk --config /etc/lifeline/node.json

        Exit codes: 0 restored, 1 failed (damaged backup, data directory in use), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: ["file", "config"], flags: ["json"])
        guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
        guard let file = options.value("file") else { throw UsageError("--file BACKUP is required") }
        guard let configPath = options.value("config") else { throw UsageError("--config FILE is required") }
        let config: NodeConfig
        do {
            config = try NodeConfig.load(path: configPath)
        } catch {
            throw CommandFailure("\(error)")
        }
        let (image, path) = try restoreBackup(file: file, into: config)
        if options.has("json") {
            printJSON(["node": config.node.rawValue, "database": path, "from": image.node.rawValue, "index": image.index, "stateHash": image.stateHash])
        } else {
            print("restored \(image.node)'s backup (index \(image.index), state \(image.stateHash)) into \(path) for \(config.node)")
        }
        return ExitCode.ok
    }
)

/// Reads, verifies and restores `file` into `config`'s data directory.
func restoreBackup(file: String, into config: NodeConfig) throws -> (BackupImage, String) {
    guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
    do {
        let image = try BackupImage(decoding: Array(data))
        let path = try Backup.restore(image, into: config, machine: NodeServer.makeStateMachine())
        return (image, path)
    } catch {
        throw CommandFailure("\(file): \(error)")
    }
}

/// Writes `bytes` to `path` through `path.partial`, fsynced, mode 0600, then renames.
func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    let partial = path + ".partial"
    let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { throw CommandFailure("cannot create \(partial): \(String(cString: strerror(errno)))") }
    var written = 0
    while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else {
            close(fd)
            unlink(partial)
            throw CommandFailure("cannot write \(partial): \(String(cString: strerror(errno)))")
        }
        written += count
    }
    guard fsync(fd) == 0, close(fd) == 0, rename(partial, path) == 0 else {
        unlink(partial)
        throw CommandFailure("cannot finish \(path): \(String(cString: strerror(errno)))")
    }
}

/// One JSON object on standard output (sorted keys), for `--json`.
func printJSON(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}
