import Foundation
import Vault

/// `lifeline token issue|revoke`: bearer tokens, issued by a node (audited) or
/// signed offline with the key ring's token secret.
let tokenCommand = Command(
    name: "token",
    summary: "issue a signed API bearer token (audited through the cluster, or offline from the key ring), or revoke one",
    help: """
        Usage: lifeline token issue --subject S --role R --site SITE [--ttl 8h] TARGET [--json]
               lifeline token issue --subject S --role R --site SITE [--ttl 8h] [--keys F] [--json]
               lifeline token revoke ID TARGET

        issue with TARGET (the way to do it): a node signs the token with the
        cluster's token secret (POST /v1/tokens) and commits a token.issue audit
        event (token id, subject, role, site, expiry) before it answers, so
        every issuance is in the replicated audit trail. An ops token may issue
        any role; a supervisor token only agent and nurse tokens of its own site.

        issue without TARGET signs offline with the token secret in key ring F
        (bootstrap, or a cluster that cannot commit). That issuance is NOT in
        the audit trail; the command says so on stderr. Record who you gave it
        to elsewhere, or revoke it once the cluster is back.

        revoke: a replicated command; one commit later every node refuses the
        token whose id (the 'jti' that 'issue --json' prints) is ID.

        TARGET is --cluster DIR (uses its ops token) or --url with --ca, --cert,
        --key and --token (an ops or supervisor token).

        Format: ll1.<base64url claims>.<base64url HMAC-SHA256> (see 'lifeline keys').
        Anyone holding the token acts as S until it expires or its token id is
        revoked (revocation is replicated by the nodes). Treat it as a password.

          --subject S   who the token is for (1-128 printable ASCII, no spaces)
          --role R      agent, nurse, supervisor, auditor, ops or dashboard
          --site SITE   the holder's site
          --ttl D       lifetime: a number with s, m, h or d (default 8h, max 7d)
          --keys F      offline: the key ring file (mode 0600); default:
                        $LIFELINE_KEY_RING, else ./keyring.json when it exists
          --json        print the claims and the token as JSON

        Example:
          lifeline token issue --subject alice --role agent --site boston --ttl 8h --cluster /tmp/ll
          lifeline token issue --subject alice --role agent --site boston --ttl 8h --keys keyring.json
          lifeline token revoke 3f9c0a... --cluster /tmp/ll

        Exit codes: 0 ok, 1 failed (bad key ring, no node answered, refused), 2 usage.
        """,
    run: { arguments in
        if arguments.first == "revoke" {
            let options = try OptionParser(Array(arguments.dropFirst()), valued: AdminTarget.valuedOptions, flags: ["json"])
            guard options.positional.count == 1 else { throw UsageError("want 'token revoke ID'") }
            let target = try AdminTarget(options, role: "ops")
            return try APIClientCommand.show(try APIClientCommand.send(target, "POST", "/v1/tokens/\(options.positional[0])/revoke"),
                                             json: options.has("json")) { _ in "token \(options.positional[0]) revoked on every node" }
        }
        guard arguments.first == "issue" else { throw UsageError("want the action 'issue' or 'revoke'") }
        let options = try OptionParser(Array(arguments.dropFirst()), valued: AdminTarget.valuedOptions.union(["subject", "role", "site", "ttl", "keys"]),
                                       flags: ["json"])
        guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
        guard let subject = options.value("subject") else { throw UsageError("--subject is required") }
        guard let roleName = options.value("role") else { throw UsageError("--role is required") }
        guard let role = Role(rawValue: roleName) else {
            throw UsageError("unknown role '\(roleName)'; want one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let site = options.value("site") else { throw UsageError("--site is required") }
        let ttlSeconds = try parseDuration(options.value("ttl") ?? "8h")
        if options.value("cluster") != nil || options.value("url") != nil {
            guard options.value("keys") == nil else { throw UsageError("--keys signs offline; with --cluster or --url the node signs (give one or the other)") }
            let target = try AdminTarget(options, role: "ops")
            let response = try target.sendToLeader("POST", "/v1/tokens", json: ["subject": subject, "role": role.rawValue, "site": site, "ttlSeconds": ttlSeconds])
            return try APIClientCommand.show(response, json: options.has("json")) { $0["token"] as? String ?? "" }
        }
        let environment = ProcessInfo.processInfo.environment["LIFELINE_KEY_RING"].flatMap { $0.isEmpty ? nil : $0 }
        let local = FileManager.default.fileExists(atPath: "keyring.json") ? "keyring.json" : nil
        guard let keys = options.value("keys") ?? environment ?? local else {
            throw UsageError("--keys F (the key ring file) is required: no LIFELINE_KEY_RING and no ./keyring.json")
        }
        let issued: (token: String, claims: TokenClaims)
        do {
            let ring = try KeyRing.load(path: keys)
            issued = try ring.tokenSigner.issue(subject: subject, role: role, site: site, now: Date(), ttlSeconds: ttlSeconds)
        } catch let error as TokenError {
            throw UsageError(error.description)
        } catch {
            throw CommandFailure("\(error)")
        }
        printError("note: signed offline with \(keys): this issuance (token id \(issued.claims.tokenID)) is not in the audit trail; issue through --cluster or --url to audit it")
        if options.has("json") {
            struct Output: Encodable { var claims: TokenClaims; var token: String }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(Output(claims: issued.claims, token: issued.token))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(issued.token)
        }
        return ExitCode.ok
    }
)

/// "90s", "30m", "8h", "7d" → seconds (1...TokenVerifier.ttlSecondsMax).
func parseDuration(_ text: String) throws -> UInt64 {
    let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
    guard let unit = text.last, let multiplier = units[unit], let count = UInt64(text.dropLast()), count > 0 else {
        throw UsageError("--ttl wants a number with s, m, h or d (like 8h), got '\(text)'")
    }
    let (seconds, overflow) = count.multipliedReportingOverflow(by: multiplier)
    guard !overflow, seconds <= TokenVerifier.ttlSecondsMax else {
        throw UsageError("--ttl '\(text)' is longer than the \(TokenVerifier.ttlSecondsMax / 86_400)-day maximum")
    }
    return seconds
}
