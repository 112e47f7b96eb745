#if canImport(Glibc)
import Glibc
#endif

/// Exit codes, documented in `lifeline --help` and Docs/operations.md.
enum ExitCode {
    static let ok: Int32 = 0
    static let failed: Int32 = 1
    static let usage: Int32 = 2
}

/// A usage mistake: the message is printed with the command's help hint, exit 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A failure that is not the caller's typing: printed, exit 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One `lifeline` subcommand.
struct Command: Sendable {
    var name: String
    /// One line for `lifeline --help`.
    var summary: String
    /// The whole `lifeline NAME --help` text, with an example.
    var help: String
    var run: @Sendable (_ arguments: [String]) throws -> Int32
}

/// Parses `--name value` and `--flag` options; anything else is a usage error.
struct OptionParser {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    private(set) var positional: [String] = []

    /// - Parameters:
    ///   - valued: options that take a value (`--seed 7` or `--seed=7`).
    ///   - flags: options that take none.
    init(_ arguments: [String], valued: Set<String>, flags allowedFlags: Set<String> = []) throws {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else {
                positional.append(argument)
                continue
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if allowedFlags.contains(name), inlineValue == nil {
                flags.insert(name)
            } else if valued.contains(name) {
                if let inlineValue {
                    values[name] = inlineValue
                } else {
                    guard index < arguments.count else { throw UsageError("--\(name) needs a value") }
                    values[name] = arguments[index]
                    index += 1
                }
            } else {
                throw UsageError("unknown option --\(name)")
            }
        }
    }

    func value(_ name: String) -> String? { values[name] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func uint64(_ name: String, default fallback: UInt64) throws -> UInt64 {
        guard let raw = values[name] else { return fallback }
        guard let value = UInt64(raw) else { throw UsageError("--\(name) wants a whole number, got '\(raw)'") }
        return value
    }

    func int(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = values[name] else { return fallback }
        guard let value = Int(raw), range.contains(value) else {
            throw UsageError("--\(name) wants a whole number in \(range.lowerBound)...\(range.upperBound), got '\(raw)'")
        }
        return value
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    var line = Array(text.utf8)
    line.append(UInt8(ascii: "\n"))
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
