#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// How much an event matters.
public enum LogLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case debug = 0
    case info = 1
    case warning = 2
    case error = 3

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }
}

/// A small structured logger passed explicitly to whoever logs (STYLE rule 9).
///
/// Each event is one JSON line on standard error:
/// `{"time":"...","level":"info","node":"a","event":"leader.elected","term":"3"}`.
/// Field values are strings the caller chose; callers MUST NOT pass PHI (patient
/// data never reaches the shell in plaintext, and error texts from the API carry
/// no request bodies).
public struct Log: Sendable {
    public var node: String
    public var minimumLevel: LogLevel
    /// Where lines go; a file descriptor so that `write(2)` of one line is atomic
    /// enough (below PIPE_BUF for normal events) that threads do not interleave.
    public var fileDescriptor: Int32

    public init(node: String, minimumLevel: LogLevel = .info, fileDescriptor: Int32 = STDERR_FILENO) {
        self.node = node
        self.minimumLevel = minimumLevel
        self.fileDescriptor = fileDescriptor
    }

    /// A logger that writes nothing, for tests that do not look at logs.
    public static let silent = Log(node: "-", minimumLevel: .error, fileDescriptor: -1)

    public func debug(_ event: String, _ fields: [(String, String)] = []) { emit(.debug, event, fields) }
    public func info(_ event: String, _ fields: [(String, String)] = []) { emit(.info, event, fields) }
    public func warning(_ event: String, _ fields: [(String, String)] = []) { emit(.warning, event, fields) }
    public func error(_ event: String, _ fields: [(String, String)] = []) { emit(.error, event, fields) }

    public func emit(_ level: LogLevel, _ event: String, _ fields: [(String, String)]) {
        guard level >= minimumLevel, fileDescriptor >= 0 else { return }
        var line = Log.line(time: Log.timestamp(), level: level, node: node, event: event, fields: fields)
        line.append("\n")
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    /// The JSON text of one event, without the newline. Keys come in a fixed order
    /// (time, level, node, event, then fields as given) so lines are easy to grep.
    public static func line(time: String, level: LogLevel, node: String, event: String, fields: [(String, String)]) -> String {
        var text = "{\"time\":\(quoted(time)),\"level\":\(quoted(level.description)),\"node\":\(quoted(node)),\"event\":\(quoted(event))"
        for (key, value) in fields {
            text += ",\(quoted(key)):\(quoted(value))"
        }
        text += "}"
        return text
    }

    /// RFC 3339 UTC wall-clock time with milliseconds, for humans reading logs.
    /// Wall time is fine here: it is only printed, never used for ordering.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(spec.tv_nsec / 1_000_000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// A JSON string literal for `text`.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
        return out
    }
}
